#!/usr/bin/env bash
# Build the edge agent's install bundle on a development machine (needs uv):
#   edge/deploy/bundle.sh [OUT_DIR]        (default dist/facility-edge-bundle)
# then copy OUT_DIR to the Raspberry Pi and run `sudo ./install.sh` there. The bundle
# holds the two wheels (facility-contracts, facility-edge), the pinned third-party
# requirements from uv.lock, the systemd unit, the example configuration and install.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/dist/facility-edge-bundle}"
rm -rf "$out"
mkdir -p "$out/wheels"
cd "$root"
uv build --quiet --wheel --package facility-contracts --out-dir "$out/wheels"
uv build --quiet --wheel --package facility-edge --out-dir "$out/wheels"
uv export --quiet --frozen --no-dev --no-hashes --no-emit-workspace --package facility-edge \
  --output-file "$out/requirements.txt"
cp "$here/install.sh" "$here/facility-edge.service" "$here/edge.yaml" "$out/"
chmod +x "$out/install.sh"
echo "bundle: $out"
