"""facility_cli."""
