"""API schemas in families: ``XBase`` (shared fields), ``XCreate``, ``XUpdate`` (all
optional), ``XPublic`` (what the API returns)."""
