"""scripts/lib/uv.sh, which scripts/demo and scripts/setup source: on a machine without uv it
installs uv with pip, also where Debian 12's Python refuses plain pip installs (PEP 668)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/bin/sh
echo "python3 $*" >> "$LOG"
case "$*" in
  "-m uv --version") exit 1 ;;
  "-m pip --version") exit 0 ;;
  *--break-system-packages*) printf '#!/bin/sh\\n' > "$BIN/uv"; chmod +x "$BIN/uv"; exit 0 ;;
  "-m pip install"*) echo "error: externally-managed-environment" >&2; exit 1 ;;
esac
exit 3
"""


def test_uv_is_installed_past_pep_668(tmp_path: Path) -> None:
    """Without uv, pip's refusal (externally managed) is followed by the
    --break-system-packages install, and $UV is then the uv command."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON)
    (bin_dir / "python3").chmod(0o755)
    log = tmp_path / "log"
    result = subprocess.run(
        ["/bin/bash", "-c", '. scripts/lib/uv.sh; echo "UV=$UV"'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "LOG": str(log), "BIN": str(bin_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "UV=uv"
    calls = log.read_text().splitlines()
    assert calls[-2:] == [
        "python3 -m pip install -q --disable-pip-version-check uv",
        "python3 -m pip install -q --disable-pip-version-check --break-system-packages uv",
    ]


def test_demo_and_setup_use_it() -> None:
    """Both verbs source the helper rather than keeping their own copy."""
    for script in ("demo", "setup"):
        text = (ROOT / "scripts" / script).read_text()
        assert ". scripts/lib/uv.sh" in text and "pip install" not in text.split("uv.sh", 1)[1]
