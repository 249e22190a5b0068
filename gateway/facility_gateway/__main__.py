"""``python -m facility_gateway run ...``: the same as ``facility gateway ...``."""

from facility_gateway.cli import app

if __name__ == "__main__":  # a spawned worker process imports this module again
    app(prog_name="facility gateway")
