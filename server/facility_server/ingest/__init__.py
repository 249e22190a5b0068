"""Ingest from the broker: status and events, decoded by facility_contracts.codec."""
