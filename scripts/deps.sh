#!/usr/bin/env bash
# Installs and starts what the test suite needs on a fresh machine: PostgreSQL (127.0.0.1:5432,
# trust auth, database "test"), openssl, node + npm packages for the interop tests, Debian's chromium
# for the real-browser tests of the customer pages, Debian's nginx for the load-balancer examples.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v openssl >/dev/null || apt_install openssl

# PostgreSQL: the contract tests and the cross-node tests talk to a real server.
if [ "${PORTCULLIS_TEST_POSTGRES:-}" != "skip" ] && [ -z "${PORTCULLIS_TEST_POSTGRES_URL:-}" ]; then
  if ! command -v pg_ctlcluster >/dev/null; then apt_install postgresql; fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  pg_isready -h 127.0.0.1 -p 5432
  if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    # A freshly installed Debian cluster asks for passwords on TCP: the tests use trust auth
    # on loopback only (127.0.0.1/32, ::1/128), as on the project's CI machines.
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    if [ -f "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
      pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
    fi
  fi
  if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
    # Fresh cluster: local socket access as the postgres OS user, then create the test database.
    su postgres -c "psql -Atc 'create database test'" >/dev/null 2>&1 || \
      psql -h 127.0.0.1 -U postgres -Atc 'create database test' >/dev/null
  fi
  psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null
fi

# Chromium: internal/web's real-browser tests drive Debian's chromium through chromedp
# (PORTCULLIS_TEST_CHROMIUM=skip leaves it out; the tests then skip, except under CI=true).
if [ "${PORTCULLIS_TEST_CHROMIUM:-}" != "skip" ] && [ -z "${PORTCULLIS_CHROMIUM:-}" ]; then
  command -v chromium >/dev/null || apt_install chromium
  chromium --version >/dev/null 2>&1
fi

# SoftHSM2 + OpenSC: the PKCS#11 reference token of internal/keys' `-tags pkcs11` tests
# (scripts/test.sh runs them when cgo works).
if [ ! -e /usr/lib/softhsm/libsofthsm2.so ] || ! command -v softhsm2-util >/dev/null || ! command -v pkcs11-tool >/dev/null; then
  apt_install softhsm2 opensc
fi

# nginx: the load-balancer example configs of deploy/nginx are tested against Debian's nginx
# (mTLS termination, $ssl_client_escaped_cert, auth_request); the tests start it themselves
# (PORTCULLIS_TEST_NGINX=skip leaves it out; the tests then skip, except under CI=true).
if [ "${PORTCULLIS_TEST_NGINX:-}" != "skip" ] && [ -z "${PORTCULLIS_NGINX:-}" ]; then
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || apt_install nginx
  { [ -x /usr/sbin/nginx ] && /usr/sbin/nginx -v; } >/dev/null 2>&1 || nginx -v >/dev/null 2>&1
fi

# Node packages for interop tests (openid-client), from the committed lockfile.
if [ -f test/interop/package-lock.json ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  if [ ! -d test/interop/node_modules ] || [ test/interop/package-lock.json -nt test/interop/node_modules ]; then
    (cd test/interop && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
