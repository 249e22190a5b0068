"""facility_server: the registry of complexes, spaces, devices and staff; accounts and
roles; device health and alerts; the REST API and the MQTT ingest.

Entry points other parts call:

- :func:`facility_server.setup.import_setup` (session, path) -> ImportReport
- :func:`facility_server.setup.export_setup` (session, site_id) -> YAML text
- :func:`facility_server.health.tick.device_health_summary` (session, now) -> dict
- :func:`facility_server.opening.is_open` / :func:`~facility_server.opening.opening_intervals`
- :func:`facility_server.api.app.create_app` (settings, engine=, clock=)
- :func:`facility_server.core.migrate.upgrade` (url)
"""
