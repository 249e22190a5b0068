#!/bin/sh
# Entry of the mosquitto service: install the credentials, then become the broker (PID 1,
# so `kill -HUP 1` in reload-auth.sh reloads them).
set -eu
/bin/sh /mosquitto/config/install-auth.sh
exec /usr/sbin/mosquitto -c /mosquitto/config/mosquitto.conf
