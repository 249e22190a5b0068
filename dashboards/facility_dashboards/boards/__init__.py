"""One module per dashboard; each has ``UID`` and ``dashboard() -> dict``."""
