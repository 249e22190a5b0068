#!/bin/sh
# Entry of the mosquitto service: install the credentials, add the TLS listener when a
# certificate is mounted, then become the broker (PID 1, so `kill -HUP 1` in
# reload-auth.sh reloads the credentials).
set -eu
/bin/sh /mosquitto/config/install-auth.sh
conf=/mosquitto/config/mosquitto.conf
if [ -s /mosquitto/certs/server.crt ] && [ -s /mosquitto/certs/server.key ]; then
  # Mosquitto 2 reads certificates after dropping to its own user.
  install -d -o mosquitto -g mosquitto -m 0700 /mosquitto/tls
  install -o mosquitto -g mosquitto -m 0644 /mosquitto/certs/server.crt /mosquitto/tls/server.crt
  install -o mosquitto -g mosquitto -m 0600 /mosquitto/certs/server.key /mosquitto/tls/server.key
  cat "$conf" /mosquitto/config/tls.conf > /mosquitto/tls/mosquitto.conf
  conf=/mosquitto/tls/mosquitto.conf
  echo "TLS listener on 8883 (certificate from deploy/mqtt-tls)"
elif [ -e /mosquitto/certs/server.crt ] || [ -e /mosquitto/certs/server.key ]; then
  echo "deploy/mqtt-tls needs both server.crt and server.key (non-empty): no TLS listener" >&2
fi
exec /usr/sbin/mosquitto -c "$conf"
