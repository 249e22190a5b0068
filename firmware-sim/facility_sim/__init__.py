"""facility_sim."""
