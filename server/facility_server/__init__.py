"""facility_server."""
