#!/bin/sh
# `npm test`, the README's test command and what .ci/run runs: build, then every check and suite.
# Each step after the build runs even when an earlier one failed; the summary names the failed steps
# and the exit status is non-zero when any failed. Order: lint, typecheck, agent CLIs install, server suite, dashboard
# (Playwright in headless Chromium), then the fresh-clone test last, alone (it builds a second checkout).
cd "$(dirname "$0")/.."
npm run build || exit 1
npm run model:demo || exit 1

failed=''
step() {
  name=$1
  shift
  echo "== $name: $*"
  "$@" || failed="$failed $name"
}
step lint npm run lint
step typecheck npm run typecheck
# The real agent CLIs (tools/agent-clis, not a workspace) for the server suite's end-to-end agent test.
step agent-clis npm run agents:install
step server npm run test -w server
step dashboard npm run test -w e2e
step fresh-clone npm run test:fresh-clone -w server

if [ -n "$failed" ]; then
  echo "npm test: failed:$failed" >&2
  exit 1
fi
echo 'npm test: every step passed'
