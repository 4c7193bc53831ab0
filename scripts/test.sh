#!/usr/bin/env bash
# The whole test suite: prepares what the tests need (scripts/deps.sh), then runs every Go test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# PKCS#11 signing keys against SoftHSM2: cgo, so behind the pkcs11 build tag and only where cgo
# works; the main run below stays cgo-free.
if [ "$(go env CGO_ENABLED)" = 1 ] && command -v "$(go env CC)" >/dev/null; then
  go test -count=1 -timeout 10m -tags pkcs11 ./internal/keys
fi
exec go test -count=1 -timeout 25m "$@" ./...
