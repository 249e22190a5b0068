"""facility_gateway."""
