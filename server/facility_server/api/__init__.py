"""The REST API (FastAPI): app factory, dependencies, schemas and routes."""
