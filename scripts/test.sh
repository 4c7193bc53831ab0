#!/usr/bin/env bash
# The whole test suite: prepares what the tests need (scripts/deps.sh), then runs every Go test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
exec go test -count=1 -timeout 25m "$@" ./...
