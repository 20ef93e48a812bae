#!/bin/sh
# Quick start: serve config/demo.toml (the project's own tiny demo model).
# Demo secrets are used unless you export your own; never use them beyond localhost.
set -eu
cd "$(dirname "$0")/.."
export SIPP_GATEWAY_TOKEN="${SIPP_GATEWAY_TOKEN:-demo-token}"
export SIPP_GATEWAY_ADMIN_PASSWORD="${SIPP_GATEWAY_ADMIN_PASSWORD:-demo-admin-password}"
[ -f models/demo.gguf ] || node scripts/generate-demo-model.mjs
echo "sipp-gateway demo: public http://127.0.0.1:8080  management http://127.0.0.1:9090  (token: \$SIPP_GATEWAY_TOKEN)" >&2
exec node server/dist/src/cli.js serve --config config/demo.toml
