#!/bin/sh
# After a new export: docker-compose exec mosquitto sh /mosquitto/config/reload-auth.sh
# Mosquitto re-reads passwd and acl on SIGHUP; a connected client whose password line
# changed (a rotated or removed device) is disconnected at once (Mosquitto 2.0.11).
set -eu
/bin/sh /mosquitto/config/install-auth.sh
kill -HUP 1
echo "broker credentials reloaded"
