"""facility_dashboards."""
