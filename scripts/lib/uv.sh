# Sourced by scripts/demo and scripts/setup: make uv available as $UV, installing it with
# pip where it is missing. On a fresh Debian 12, pip itself is missing (python3-pip; root
# installs it) and the system Python is "externally managed" (PEP 668), so uv, a standalone
# tool, is installed with --break-system-packages when the plain install is refused.
if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "need uv (https://docs.astral.sh/uv/) or pip for python3 (as root: apt-get install python3-pip)" >&2
      exit 1
    fi
    echo "installing python3-pip (for uv)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  echo "installing uv" >&2
  python3 -m pip install -q --disable-pip-version-check uv 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages uv
fi
UV="uv"; command -v uv >/dev/null 2>&1 || UV="python3 -m uv"
export UV_PYTHON_DOWNLOADS=never
