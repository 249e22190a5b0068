#!/bin/bash
# One-shot service "influxdb-setup" (docker-compose.yml): after the influxdb image's own
# setup made the organisation, the bucket and the admin token, give every reader and
# writer its own least-privilege credential. Idempotent: safe on every `up`.
#
#   - DBRP mapping: InfluxQL database "$INFLUX_BUCKET" (retention policy autogen) -> the
#     bucket, so the dashboards' InfluxQL and the gateway's existence checks work.
#   - Grafana: a v1 authorization (user/password, read-only on the bucket), used by the
#     InfluxQL datasource through /query.
#   - gateway, server: API tokens with read+write on the bucket (the gateway reads to
#     resolve in-doubt events), written to the influx-tokens volume for their containers.
#
# Needs: INFLUX_HOST, INFLUX_TOKEN (admin), INFLUX_ORG, INFLUX_BUCKET, GRAFANA_INFLUX_USER,
# GRAFANA_INFLUX_PASSWORD, TOKEN_DIR, APP_UID.
set -euo pipefail
: "${INFLUX_HOST:?}" "${INFLUX_TOKEN:?}" "${INFLUX_ORG:?}" "${INFLUX_BUCKET:?}"
: "${GRAFANA_INFLUX_USER:?}" "${GRAFANA_INFLUX_PASSWORD:?}" "${TOKEN_DIR:?}" "${APP_UID:?}"
export INFLUX_HOST INFLUX_TOKEN INFLUX_ORG

for _ in $(seq 1 60); do influx ping >/dev/null 2>&1 && break; sleep 1; done
bucket_id=$(influx bucket list --name "$INFLUX_BUCKET" --hide-headers | cut -f 1)
[ -n "$bucket_id" ] || { echo "no bucket $INFLUX_BUCKET" >&2; exit 1; }

if [ -z "$(influx v1 dbrp list --db "$INFLUX_BUCKET" --hide-headers)" ]; then
  influx v1 dbrp create --db "$INFLUX_BUCKET" --rp autogen --default --bucket-id "$bucket_id"
  echo "dbrp: $INFLUX_BUCKET/autogen -> bucket $bucket_id"
fi

if influx v1 auth list --username "$GRAFANA_INFLUX_USER" --hide-headers | grep -q .; then
  # Keep the password in step with the environment (it may have been rotated).
  influx v1 auth set-password --username "$GRAFANA_INFLUX_USER" --password "$GRAFANA_INFLUX_PASSWORD"
else
  influx v1 auth create --username "$GRAFANA_INFLUX_USER" --password "$GRAFANA_INFLUX_PASSWORD" \
    --read-bucket "$bucket_id" --description "grafana (read-only, InfluxQL)"
  echo "grafana: read-only v1 authorization $GRAFANA_INFLUX_USER"
fi

install -d -m 0750 -o "$APP_UID" "$TOKEN_DIR"
for who in gateway server; do
  file="$TOKEN_DIR/$who.token"
  [ -s "$file" ] && continue
  token=$(influx auth create --org "$INFLUX_ORG" --read-bucket "$bucket_id" \
    --write-bucket "$bucket_id" --description "facility-$who" --json |
    sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "could not create the $who token" >&2; exit 1; }
  (umask 077; printf '%s' "$token" >"$file")
  chown "$APP_UID" "$file"
  echo "$who: token written to $file"
done
