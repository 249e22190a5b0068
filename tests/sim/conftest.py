"""Fixtures for the simulator tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def link(tmp_path: Path) -> Path:
    """A fresh symlink path for a pty."""
    return tmp_path / "dev" / "dc-test"
