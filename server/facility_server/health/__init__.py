"""Device health: a pure evaluation and the tick that applies it to the database."""
