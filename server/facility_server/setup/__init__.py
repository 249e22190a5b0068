"""Setup by file: a whole complex in one YAML document (import and export)."""

from facility_server.setup.exporter import export_setup
from facility_server.setup.importer import ImportReport, import_setup
from facility_server.setup.yamlmap import SetupError

__all__ = ["ImportReport", "SetupError", "export_setup", "import_setup"]
