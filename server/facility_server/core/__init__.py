"""Settings and database plumbing of the server."""
