#!/bin/sh
# Quick start: serve config/demo.toml (the project's own tiny demo model).
# Demo secrets are used unless you export your own; never use them beyond localhost.
# Ports: SIPP_GATEWAY_PUBLIC_BIND / SIPP_GATEWAY_MANAGEMENT_BIND (host:port)
# replace the binds of config/demo.toml, e.g. SIPP_GATEWAY_PUBLIC_BIND=127.0.0.1:8081.
# `exec` makes the gateway this process, so the signals npm forwards (SIGTERM,
# SIGINT) reach it and it drains and frees its ports.
set -eu
cd "$(dirname "$0")/.."
export SIPP_GATEWAY_TOKEN="${SIPP_GATEWAY_TOKEN:-demo-client-token}"
export SIPP_GATEWAY_ADMIN_PASSWORD="${SIPP_GATEWAY_ADMIN_PASSWORD:-demo-admin-password}"
[ -f models/demo.gguf ] || node scripts/generate-demo-model.mjs
public="${SIPP_GATEWAY_PUBLIC_BIND:-127.0.0.1:8080}"
management="${SIPP_GATEWAY_MANAGEMENT_BIND:-127.0.0.1:9090}"
echo "sipp-gateway demo: public http://$public  management http://$management  (token: \$SIPP_GATEWAY_TOKEN)" >&2
exec node server/dist/src/cli.js serve --config config/demo.toml
