#!/bin/sh
# After a new export: docker-compose exec mosquitto sh /mosquitto/config/reload-auth.sh
# Mosquitto re-reads passwd and acl on SIGHUP; connected clients stay connected.
set -eu
/bin/sh /mosquitto/config/install-auth.sh
kill -HUP 1
echo "broker credentials reloaded"
