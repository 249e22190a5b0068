#!/usr/bin/env bash
# Install or upgrade the facility edge agent on a Raspberry Pi (Raspberry Pi OS / Debian
# 12, 64- or 32-bit). Run as root from the bundle made by bundle.sh:
#   sudo ./install.sh
# It creates the unprivileged user facility-edge (member of dialout, for the serial
# ports), a virtualenv in /opt/facility-edge, /etc/facility-edge/edge.yaml from the example
# (kept if it exists), and the systemd unit facility-edge.service (restart on failure).
# The agent is started only once the configuration has been edited (no "change-me" left).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${PREFIX:-/opt/facility-edge}"
CONF_DIR="${CONF_DIR:-/etc/facility-edge}"
UNIT_DIR="${UNIT_DIR:-/etc/systemd/system}"
USER_NAME=facility-edge

[ "$(id -u)" = 0 ] || { echo "run as root: sudo $0" >&2; exit 1; }
for f in requirements.txt facility-edge.service edge.yaml; do
  [ -f "$here/$f" ] || { echo "missing $here/$f: run bundle.sh to make the bundle" >&2; exit 1; }
done
ls "$here"/wheels/facility_edge-*.whl "$here"/wheels/facility_contracts-*.whl >/dev/null

if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "facility-edge needs Python >= 3.11 (Debian 12 / Raspberry Pi OS bookworm)" >&2; exit 1; }

if ! id "$USER_NAME" >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/facility-edge --no-create-home \
    --shell /usr/sbin/nologin --groups dialout "$USER_NAME"
else
  usermod --append --groups dialout "$USER_NAME"
fi

[ -x "$PREFIX/bin/python" ] || python3 -m venv "$PREFIX"
# 32-bit Raspberry Pi OS: piwheels has prebuilt wheels (pydantic-core needs no compiler).
extra=()
case "$(uname -m)" in
  armv6l | armv7l) extra=(--extra-index-url https://www.piwheels.org/simple) ;;
esac
"$PREFIX/bin/pip" install --quiet --upgrade pip
"$PREFIX/bin/pip" install --quiet "${extra[@]}" -r "$here/requirements.txt"
"$PREFIX/bin/pip" install --quiet --no-deps --force-reinstall "$here"/wheels/*.whl

install -d -m 0755 "$CONF_DIR"
if [ ! -f "$CONF_DIR/edge.yaml" ]; then
  install -m 0640 -o root -g "$USER_NAME" "$here/edge.yaml" "$CONF_DIR/edge.yaml"
  echo "wrote $CONF_DIR/edge.yaml: edit agent, mqtt and devices (see the comments)"
fi
install -m 0644 "$here/facility-edge.service" "$UNIT_DIR/facility-edge.service"
systemctl daemon-reload
systemctl enable facility-edge.service >/dev/null

if grep -q change-me "$CONF_DIR/edge.yaml"; then
  echo "not started: $CONF_DIR/edge.yaml still has the example password."
  echo "edit it, then: sudo systemctl start facility-edge && journalctl -u facility-edge -f"
  exit 0
fi
"$PREFIX/bin/python" -c 'import sys; from facility_edge.config import load_config; load_config(sys.argv[1])' \
  "$CONF_DIR/edge.yaml"
systemctl restart facility-edge.service
systemctl --no-pager --lines=5 status facility-edge.service || true
