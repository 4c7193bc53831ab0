#!/usr/bin/env bash
# Customer-journey benchmark: Portcullis vs panva's oidc-provider (the peer in
# /work/shared/peers), same load generator (scripts/journeyload), same sitting, one server at a
# time. The server is pinned to CPU 0 and the load generator to CPU 1 (taskset), so "per core"
# means what it says; server CPU is read from /proc/PID/stat around each measured window.
#
#   1. Portcullis (dev mode, SQLite, sandbox TLS certificates), a FAPI 2.0 tls_client_auth
#      client (authorization_code + refresh_token: a refresh token with every exchange, as the
#      peer's tls-client gets) and $USERS embedded customers with known TOTP keys:
#        par      PAR requests/s                                  (c = $C, $DUR)
#        code     authorization_code exchanges/s: $ROUNDS rounds of $CODES codes made first through the pages
#                 (PAR, /authorize, login, TOTP, approve), then exchanged  (c = $C)
#        journey  whole journeys/s (PAR → authorize → login → TOTP → approve → token), with a
#                 Go CPU profile of the server for the window: the share spent in argon2id
#                 (c = $JC, $DUR)
#   2. the peer (FAPI 2.0 profile, its tls-client, devInteractions login + consent):
#        par, code   as above
#
# Usage:  scripts/bench/journey.sh                       (~4 min)
#         DUR=3s CODES=100 USERS=60 scripts/bench/journey.sh   (a quick smoke run)
# Env:    DUR=10s C=8 JC=4 CODES=150 ROUNDS=4 USERS=240 WORK=/tmp/portcullis-journey-bench
#         OUT=results/journey-<stamp> (gitignored)  PEERS_SRC=/work/shared/peers
#         PC_HTTPS=127.0.0.1:18543 PC_PUBLIC=127.0.0.1:18544 PC_OPS=127.0.0.1:19190
#         PC_PPROF=127.0.0.1:16060 PEER_PORT=28543
#         SERVER_CPU=0 LOADGEN_CPU=1      the cores (taskset -c)
# Everything is bounded in time; only processes this script started are stopped, by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PEERS_SRC=${PEERS_SRC:-/work/shared/peers}
DUR=${DUR:-10s}; C=${C:-8}; JC=${JC:-4}; CODES=${CODES:-150}; ROUNDS=${ROUNDS:-4}; USERS=${USERS:-240}
WORK=${WORK:-/tmp/portcullis-journey-bench}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/results/journey-$stamp}
PC_HTTPS=${PC_HTTPS:-127.0.0.1:18543}; PC_PUBLIC=${PC_PUBLIC:-127.0.0.1:18544}; PC_OPS=${PC_OPS:-127.0.0.1:19190}
PC_PPROF=${PC_PPROF:-127.0.0.1:16060}; PEER_PORT=${PEER_PORT:-28543}
SERVER_CPU=${SERVER_CPU:-0}; LOADGEN_CPU=${LOADGEN_CPU:-1}
REDIRECT=https://client2.example.com/cb

mkdir -p "$WORK" "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$WORK/.lock"
flock -n 9 || { echo "another journey.sh is running with WORK=$WORK" >&2; exit 1; }

SRV=""   # the `timeout` wrapper of the running server
stop_server() {
  if [ -n "$SRV" ]; then
    kill "$SRV" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$SRV" || break; sleep 0.2; done
    kill -KILL "$SRV" 2>/dev/null || true
    wait "$SRV" 2>/dev/null || true
    SRV=""
  fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM
say() { printf '== %s\n' "$*" >&2; }
alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }
port_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
wait_ready() { # URL [curl args...]
  local u=$1; shift
  for _ in $(seq 1 150); do
    if curl -sf -m 2 "$@" "$u" >/dev/null 2>&1; then return 0; fi
    alive "$SRV" || return 1
    sleep 0.2
  done
  return 1
}
LG() { timeout -k 5 300 taskset -c "$LOADGEN_CPU" "$WORK/journeyload" "$@"; }

# ---- build ------------------------------------------------------------------------------
say "building portcullis (-tags benchpprof) and journeyload in $WORK"
go build -tags benchpprof -o "$WORK/portcullis" ./cmd/portcullis
(cd scripts/journeyload && go build -o "$WORK/journeyload" .)
BIN=$WORK/portcullis

say "preparing the peer copy in $WORK/peers"
mkdir -p "$WORK/peers"
rsync -a --delete --exclude node_modules/ --exclude certs/ --exclude results/ \
  --exclude loadgen/loadgen --exclude .npm-ci-done "$PEERS_SRC/" "$WORK/peers/"
lockhash=$(sha256sum "$WORK/peers/oidc-provider/package-lock.json" | cut -c1-64)
if [ "$(cat "$WORK/peers/.npm-ci-done" 2>/dev/null || true)" != "$lockhash" ] \
   || [ ! -x "$WORK/peers/oidc-provider/node_modules/.bin/node" ]; then
  (cd "$WORK/peers/oidc-provider" && timeout 600 npm ci --no-audit --no-fund)
  echo "$lockhash" > "$WORK/peers/.npm-ci-done"
fi
(cd "$WORK/peers" && timeout 60 ./make-certs.sh >/dev/null)
PEER_NODE=$WORK/peers/oidc-provider/node_modules/.bin/node

{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc=$(nproc) cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  echo "mem=$(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) kernel=$(uname -r) go=$(go env GOVERSION)"
  echo "peer_node=$("$PEER_NODE" --version) oidc_provider=$(node -p "require('$WORK/peers/oidc-provider/node_modules/oidc-provider/package.json').version" 2>/dev/null || echo ?)"
  echo "portcullis_commit=$(git rev-parse --short HEAD) tree_changes=$(git status --porcelain | wc -l)"
  echo "dur=$DUR c=$C journey_c=$JC codes=$CODES rounds=$ROUNDS users=$USERS server_cpu=$SERVER_CPU loadgen_cpu=$LOADGEN_CPU"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# ---- Portcullis ---------------------------------------------------------------------------
for a in "$PC_HTTPS" "$PC_PUBLIC" "$PC_OPS" "$PC_PPROF"; do
  port_free "$a" || { echo "port $a is in use" >&2; exit 1; }
done
D=$WORK/data; W=$WORK/clients
rm -rf "$D" "$W"; mkdir -p "$D" "$W"
say "portcullis: $USERS customers with known TOTP keys"
printf 'journey-bench-password\n' > "$W/password"
: > "$W/users.txt"
for i in $(seq 1 "$USERS"); do
  secret=$(head -c 20 /dev/urandom | base32 | tr -d '=')
  echo "bench$i journey-bench-password $secret" >> "$W/users.txt"
done
# the first alone (it creates the data dir's keys), then two at a time (each hashes a password)
add_users() {
  xargs -P "$1" -L 1 timeout 60 sh -c \
    '"$0" user add --data-dir "$1" --id "$3" --password-file "$2" --totp-secret "$4" >/dev/null' "$BIN" "$D" "$W/password"
}
awk 'NR == 1 {print $1, $3}' "$W/users.txt" | add_users 1
awk 'NR > 1 {print $1, $3}' "$W/users.txt" | add_users 2
say "portcullis: $("$BIN" user list --data-dir "$D" 2>/dev/null | grep -c '^bench' || true) bench customers"

env_pc=(PORTCULLIS_LISTEN_HTTPS="$PC_HTTPS" PORTCULLIS_LISTEN_PUBLIC="$PC_PUBLIC" PORTCULLIS_LISTEN_OPS="$PC_OPS"
        PORTCULLIS_ISSUER="https://localhost:${PC_HTTPS##*:}" PORTCULLIS_PUBLIC_URL="https://localhost:${PC_PUBLIC##*:}"
        PORTCULLIS_LOG_LEVEL=warn PORTCULLIS_HTTP_MAX_CONNECTIONS_PER_ADDRESS=1024 BENCH_PPROF_ADDR="$PC_PPROF")
say "portcullis: serve on CPU $SERVER_CPU"
env "${env_pc[@]}" timeout -k 5 900 taskset -c "$SERVER_CPU" "$BIN" serve --data-dir "$D" > "$WORK/server.log" 2>&1 &
SRV=$!
wait_ready "http://$PC_OPS/readyz" || { echo "portcullis did not become ready" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
PID=$(pgrep -P "$SRV" | head -1)
"$BIN" pki issue qwac --dir "$D/pki" --out "$W/tls-client" --org-id PSDGB-FCA-100001 --roles AISP,PISP >/dev/null
dn=$(openssl x509 -in "$W/tls-client.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
env "${env_pc[@]}" "$BIN" client add --data-dir "$D" --id tls-client --auth tls_client_auth --subject-dn "$dn" \
  --grant-type authorization_code --grant-type refresh_token --redirect-uri "$REDIRECT" --scope accounts --profile fapi2 >/dev/null
pc=(-server portcullis -client-id tls-client -redirect-uri "$REDIRECT" -cert "$W/tls-client.crt" -key "$W/tls-client.key"
    -ca "$D/pki/ca.crt" -server-name localhost -par-url "https://$PC_HTTPS/par" -token-url "https://$PC_HTTPS/token"
    -authorize-url "https://$PC_PUBLIC/authorize" -users "$W/users.txt" -users-state "$W/users.state" -server-pid "$PID")
{
  echo "# $(date -u) portcullis pid=$PID load1=$(cut -d' ' -f1 /proc/loadavg)"
  LG "${pc[@]}" -mode par -c "$C" -d "$DUR" -label "load1=$(cut -d' ' -f1 /proc/loadavg)" || echo "journeyload failed: par"
  LG "${pc[@]}" -mode code -c "$C" -n "$CODES" -rounds "$ROUNDS" -d 60s -label "load1=$(cut -d' ' -f1 /proc/loadavg)" || echo "journeyload failed: code"
  LG "${pc[@]}" -mode journey -c "$JC" -d "$DUR" -pprof-url "http://$PC_PPROF/debug/pprof/profile" -pprof-out "$OUT/portcullis-journey.pprof" \
    -label "load1=$(cut -d' ' -f1 /proc/loadavg)" || echo "journeyload failed: journey"
  echo "    server_rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$PID/status" 2>/dev/null || echo ?)"
} | tee "$OUT/portcullis.txt"
stop_server
grep -v '"level":"INFO"' "$WORK/server.log" | head -50 > "$OUT/server-portcullis.log" || true
if [ -s "$OUT/portcullis-journey.pprof" ]; then
  go tool pprof -top -cum "$BIN" "$OUT/portcullis-journey.pprof" 2>/dev/null | head -60 > "$OUT/portcullis-journey.top.txt" || true
  {
    echo "# argon2 in the journey CPU profile: every sample with an argon2 frame (go tool pprof -top -focus argon2)"
    go tool pprof -top -focus argon2 "$BIN" "$OUT/portcullis-journey.pprof" 2>/dev/null | grep -E 'Duration|Showing nodes' || true
    grep -i 'argon2' "$OUT/portcullis-journey.top.txt" | head -3 || true
  } | tee "$OUT/argon2.txt"
fi

# ---- the peer -----------------------------------------------------------------------------
port_free "127.0.0.1:$PEER_PORT" || { echo "port $PEER_PORT is in use" >&2; exit 1; }
say "peer: oidc-provider on 127.0.0.1:$PEER_PORT, CPU $SERVER_CPU"
(cd "$WORK/peers/oidc-provider" && PORT=$PEER_PORT QUIET=1 exec timeout -k 5 900 taskset -c "$SERVER_CPU" "$PEER_NODE" server.mjs) \
  > "$WORK/peer.log" 2>&1 &
SRV=$!
wait_ready "https://127.0.0.1:$PEER_PORT/.well-known/openid-configuration" --cacert "$WORK/peers/certs/ca.crt" \
  || { echo "peer did not become ready" >&2; tail -20 "$WORK/peer.log" >&2; exit 1; }
PID=$(pgrep -P "$SRV" | head -1)
PC_PEER=https://127.0.0.1:$PEER_PORT
peer=(-server peer -client-id tls-client -redirect-uri "$REDIRECT" -cert "$WORK/peers/certs/tls-client.crt"
      -key "$WORK/peers/certs/tls-client.key" -ca "$WORK/peers/certs/ca.crt" -par-url "$PC_PEER/request"
      -token-url "$PC_PEER/token" -authorize-url "$PC_PEER/auth" -server-pid "$PID")
{
  echo "# $(date -u) peer pid=$PID load1=$(cut -d' ' -f1 /proc/loadavg)"
  LG "${peer[@]}" -mode par -c "$C" -d "$DUR" -label "load1=$(cut -d' ' -f1 /proc/loadavg)" || echo "journeyload failed: par"
  LG "${peer[@]}" -mode code -c "$C" -n "$CODES" -rounds "$ROUNDS" -d 60s -label "load1=$(cut -d' ' -f1 /proc/loadavg)" || echo "journeyload failed: code"
  echo "    server_rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$PID/status" 2>/dev/null || echo ?)"
} | tee "$OUT/peer.txt"
stop_server
tail -50 "$WORK/peer.log" > "$OUT/server-peer.log" || true

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
echo; cat "$OUT/machine.txt"; echo "results: $OUT"
