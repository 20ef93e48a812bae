#!/bin/sh
# `npm run lint`: ESLint, Prettier's check and the import-cycle check. Every step runs; the exit status
# is non-zero when any of them failed (README.md#developer-loop).
cd "$(dirname "$0")/.."
status=0
npx eslint --cache --cache-location node_modules/.cache/eslint/ . || status=1
npx prettier --check . || status=1
node scripts/check-cycles.mjs || status=1
exit $status
