#!/bin/sh
# Copy the generated password and ACL files (bind-mounted read-only at /broker-auth) to
# /mosquitto/auth, owned by the broker's user and readable by nobody else.
set -eu
for f in passwd acl; do
  if [ ! -s "/broker-auth/$f" ]; then
    echo "missing /broker-auth/$f: run 'facility server export-broker-auth' first (docs/deploy.md)" >&2
    exit 1
  fi
done
install -d -o mosquitto -g mosquitto -m 0700 /mosquitto/auth
install -o mosquitto -g mosquitto -m 0600 /broker-auth/passwd /mosquitto/auth/passwd
install -o mosquitto -g mosquitto -m 0600 /broker-auth/acl /mosquitto/auth/acl
