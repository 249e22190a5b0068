"""facility_edge."""
