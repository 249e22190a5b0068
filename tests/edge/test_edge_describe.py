"""`check`'s one-line description of a configuration never shows a URL's password."""

from __future__ import annotations

from pathlib import Path

from facility_edge.config import load_config
from facility_edge.run import describe

EXAMPLE = Path(__file__).resolve().parents[2] / "edge" / "examples" / "checkin-terminals.yaml"


def test_camera_url_credentials_are_masked(tmp_path: Path) -> None:
    """An rtsp:// camera source with user and password shows as rtsp://***@host."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "source: /dev/video0", "source: rtsp://viewer:s3cret-pw@192.0.2.7/stream1"
    )
    assert "s3cret-pw" in text  # the example still has the line this test rewrites
    path = tmp_path / "edge.yaml"
    path.write_text(text, encoding="utf-8")
    line = describe(path, load_config(path))
    assert "s3cret-pw" not in line and "viewer" not in line
    assert "rtsp://***@192.0.2.7/stream1" in line
