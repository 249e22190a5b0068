#!/usr/bin/env bash
# Install or upgrade the facility edge agent on a Raspberry Pi (Raspberry Pi OS / Debian
# 12, 64- or 32-bit), from the bundle made by bundle.sh:
#   sudo ./install.sh              install or upgrade
#   ./install.sh --dry-run         print what it would do; change nothing (root not needed)
# Paths, from the environment: PREFIX (the virtualenv, default /opt/facility-edge),
# CONF_DIR (/etc/facility-edge), UNIT_DIR (/etc/systemd/system). The unit is written with
# these paths. It creates the unprivileged user facility-edge (member of dialout, for the
# serial ports), the virtualenv, $CONF_DIR/edge.yaml from the example (kept if it exists)
# and the systemd unit facility-edge.service (restart on failure, not on exit code 2).
# The agent is started only once the configuration is edited (no "change-me" left) and
# `python -m facility_edge check` accepts it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${PREFIX:-/opt/facility-edge}"
CONF_DIR="${CONF_DIR:-/etc/facility-edge}"
UNIT_DIR="${UNIT_DIR:-/etc/systemd/system}"
USER_NAME=facility-edge
UNIT=facility-edge.service

DRY=false
case "${1:-}" in
  --dry-run) DRY=true ;;
  "") ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac
for var in PREFIX CONF_DIR UNIT_DIR; do
  case "${!var}" in
    /*) ;;
    *) echo "$var must be an absolute path, not '${!var}'" >&2; exit 2 ;;
  esac
done

# A command that changes the system: printed under --dry-run, run otherwise.
run() {
  if $DRY; then echo "would run: $*"; else "$@"; fi
}

# The unit with this installation's paths (the file in the bundle uses the defaults).
unit_text() {
  sed -e "s|/opt/facility-edge|$PREFIX|g" -e "s|/etc/facility-edge|$CONF_DIR|g" "$here/$UNIT"
}

$DRY || [ "$(id -u)" = 0 ] || { echo "run as root: sudo $0 (or: $0 --dry-run)" >&2; exit 1; }
for f in requirements.txt "$UNIT" edge.yaml; do
  [ -f "$here/$f" ] || { echo "missing $here/$f: run bundle.sh to make the bundle" >&2; exit 1; }
done
ls "$here"/wheels/facility_edge-*.whl "$here"/wheels/facility_contracts-*.whl >/dev/null

if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  run apt-get update -qq
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
fi
if command -v python3 >/dev/null; then
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "facility-edge needs Python >= 3.11 (Debian 12 / Raspberry Pi OS bookworm)" >&2; exit 1; }
fi

if ! id "$USER_NAME" >/dev/null 2>&1; then
  run useradd --system --home-dir /var/lib/facility-edge --no-create-home \
    --shell /usr/sbin/nologin --groups dialout "$USER_NAME"
else
  run usermod --append --groups dialout "$USER_NAME"
fi

[ -x "$PREFIX/bin/python" ] || run python3 -m venv "$PREFIX"
# 32-bit Raspberry Pi OS: piwheels has prebuilt wheels (pydantic-core needs no compiler).
extra=()
case "$(uname -m)" in
  armv6l | armv7l) extra=(--extra-index-url https://www.piwheels.org/simple) ;;
esac
run "$PREFIX/bin/pip" install --quiet --upgrade pip
run "$PREFIX/bin/pip" install --quiet "${extra[@]}" -r "$here/requirements.txt"
run "$PREFIX/bin/pip" install --quiet --no-deps --force-reinstall "$here"/wheels/*.whl
# The unit runs `python -OO` as $USER_NAME, who cannot write bytecode into the venv or the
# standard library: write the -OO bytecode now (without it every start compiles ~300 modules).
run "$PREFIX/bin/python" -OO -m facility_edge precompile

run install -d -m 0755 "$CONF_DIR"
conf="$CONF_DIR/edge.yaml"
if [ ! -f "$conf" ]; then
  run install -m 0640 -o root -g "$USER_NAME" "$here/edge.yaml" "$conf"
  if $DRY; then
    conf="$here/edge.yaml"
  else
    echo "wrote $conf: edit agent, mqtt and devices (see the comments)"
  fi
fi

run install -d -m 0755 "$UNIT_DIR"
if $DRY; then
  echo "would write $UNIT_DIR/$UNIT:"
  unit_text | sed 's/^/    /'
else
  unit_text > "$UNIT_DIR/$UNIT.tmp"
  chmod 0644 "$UNIT_DIR/$UNIT.tmp"
  mv "$UNIT_DIR/$UNIT.tmp" "$UNIT_DIR/$UNIT"
fi
run systemctl daemon-reload
run systemctl enable "$UNIT"

if grep -q change-me "$conf"; then
  echo "not started: $CONF_DIR/edge.yaml still has the example password."
  echo "edit it, then: sudo systemctl start facility-edge && journalctl -u facility-edge -f"
  exit 0
fi
if $DRY; then
  echo "would run: $PREFIX/bin/python -m facility_edge check --config $conf"
elif ! "$PREFIX/bin/python" -m facility_edge check --config "$conf"; then
  echo "not started: fix $conf (the problems above), then: sudo systemctl start facility-edge" >&2
  exit 1
fi
run systemctl restart "$UNIT"
$DRY || systemctl --no-pager --lines=5 status "$UNIT" || true
