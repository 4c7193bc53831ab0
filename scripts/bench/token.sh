#!/usr/bin/env bash
# Token-endpoint load benchmark: Portcullis vs panva's oidc-provider (the peer in
# /work/shared/peers), same load generator, same flags, same concurrency, same sitting.
#
# What it runs, one after the other (never two servers at once):
#   1. Portcullis, ES256 access tokens, fresh data dir:
#        auth {tls, pkjwt} x keep-alive {true, false} x c {1, 8, 32}
#   2. Portcullis, PS256 access tokens (PORTCULLIS_KEYS_ALG=PS256), fresh data dir:
#        auth {tls, pkjwt} x $PS256_KAS x $PS256_CONCS
#   3. the peer, by its own bench.sh (ES256 JWT access tokens, in-memory store), same matrix as 1.
#   4. optional (PG_URL set): Portcullis on PostgreSQL in a fresh schema, $PG_KAS x $PG_CONCS.
# The Portcullis client certificates are QWACs minted by the running server's sandbox CA, so
# every full handshake is validated against that CA including revocation (OCSP against the
# server's own responder, cached). private_key_jwt assertions are fresh per request (unique jti),
# consumed durably in the store (SQLite, or PostgreSQL for step 4).
#
# Usage:  scripts/bench/token.sh                 # the whole sitting (~6 min with DUR=10s)
#         DUR=2s CONCS=8 PEER=0 scripts/bench/token.sh   # a quick smoke run
#         scripts/bench/token.sh --summary results/token-<stamp>   # rebuild summary.md only
# Env:
#   DUR=10s  CONCS="1 8 32"  AUTHS="tls pkjwt"  KAS="true false"   the matrix (shared with the peer)
#   ES256=1                                                        the main Portcullis matrix (0 = skip)
#   PS256=1  PS256_CONCS=$CONCS  PS256_KAS=true                    PS256 variant (0 = skip)
#   TUNED_ENV=                   e.g. "GOMAXPROCS=4": one more ES256 variant ("tuned") with these server
#   TUNED_KAS=true TUNED_CONCS=$CONCS   environment settings, over $TUNED_KAS x $TUNED_CONCS
#   PEER=1                                                         run the peer (0 = skip)
#   PG_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable PostgreSQL variant (unset = skip);
#   PG_CONCS=8  PG_KAS=true                                        a schema is created and dropped
#   BENCH_BIN=              a prebuilt binary instead of `go build ./cmd/portcullis`
#   WORK=/tmp/portcullis-bench   build and peer copy (node_modules is ~200 MB: kept out of the repo)
#   OUT=results/token-<stamp>    raw output, logs and summary.md (results/ is gitignored)
#   PC_HTTPS=127.0.0.1:18443  PC_OPS=127.0.0.1:19090  PEER_PORT=28443   ports (must be free)
#   LOG_LEVEL=info               Portcullis log level (info = as shipped: request + audit lines)
#   CLIENT_CHAIN=full            the chain the clients send in the handshake: leaf = the QWAC alone (as
#                                the peer's clients do; Portcullis finds the issuing CA in its trust
#                                store); full = QWAC + issuing CA, as `pki issue` writes it
#   PC_GOGC=                     GOGC for the Portcullis server only (unset: serve's default)
#   PC_ENV=                      more NAME=VALUE words for the Portcullis server's environment only
#   LG_ENV=                      NAME=VALUE words for every load generator's environment (both servers'),
#                                e.g. GODEBUG=tlsmlkem=0: clients that offer classical key exchange only
#                                (X25519), as the peer's Node/OpenSSL 3.0 server and many TPP stacks do
#   SERVER_CERT=peer             Portcullis' TLS server certificate: peer = the peer's own certs/server.crt
#                                (P-256 leaf under its CA, one signature for the client to check, as
#                                with the peer); sandbox = the dev sandbox's (leaf <- issuing <- root)
#   KEEP_SERVER_LOG=0            1: keep the full server log in WORK (large)
#   PERF=0                       1: after the ES256 matrix, an unmeasured pass under `perf record`
#                                (keep-alive pkjwt and new-conn tls at c=8) -> OUT/perf-*.txt
#   PERF_RUNS="pkjwt:true tls:false"  the perf passes, auth:keepalive each
#   PIN=0                        1: pinned mode (needs 2+ cores and taskset): every server (Portcullis and
#                                the peer) runs under `taskset -c 0`, every load generator under
#                                `taskset -c 1`, so the server has one core of its own and its CPU per
#                                token (the "CPU µs/token" column) is not shared with the client's.
#                                Unpinned, on 2 cores, throughput ratios measure the load generator.
# Everything is bounded in time; only processes this script started are stopped, by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PEERS_SRC=${PEERS_SRC:-/work/shared/peers}

DUR=${DUR:-10s}; CONCS=${CONCS:-"1 8 32"}; AUTHS=${AUTHS:-"tls pkjwt"}; KAS=${KAS:-"true false"}
ES256=${ES256:-1}; PS256=${PS256:-1}; PS256_CONCS=${PS256_CONCS:-$CONCS}; PS256_KAS=${PS256_KAS:-true}
PERF=${PERF:-0}; PIN=${PIN:-0}
LG_ENV=${LG_ENV:-}; lg_env=(); if [ -n "$LG_ENV" ]; then read -r -a lg_env <<<"$LG_ENV"; fi
SRV_PIN=(); LG_PIN=()
if [ "$PIN" = 1 ]; then
  command -v taskset >/dev/null || { echo "PIN=1 needs taskset (util-linux)" >&2; exit 1; }
  [ "$(nproc)" -ge 2 ] || { echo "PIN=1 needs at least 2 cores" >&2; exit 1; }
  SRV_PIN=(taskset -c 0); LG_PIN=(taskset -c 1)
fi
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then echo "perf not found: PERF=1 ignored" >&2; PERF=0; fi
TUNED_ENV=${TUNED_ENV:-}; TUNED_KAS=${TUNED_KAS:-true}; TUNED_CONCS=${TUNED_CONCS:-$CONCS}
PEER=${PEER:-1}; PG_URL=${PG_URL:-}; PG_CONCS=${PG_CONCS:-8}; PG_KAS=${PG_KAS:-true}
WORK=${WORK:-/tmp/portcullis-bench}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/results/token-$stamp}
if [ "${1:-}" = --summary ]; then OUT=${2:?usage: token.sh --summary OUTDIR}; fi
PC_HTTPS=${PC_HTTPS:-127.0.0.1:18443}; PC_OPS=${PC_OPS:-127.0.0.1:19090}; PEER_PORT=${PEER_PORT:-28443}
LOG_LEVEL=${LOG_LEVEL:-info}
SERVER_CERT=${SERVER_CERT:-peer}
CLIENT_CHAIN=${CLIENT_CHAIN:-full}
MAXREQ=2000000                                  # loadgen -n, as in the peer's bench.sh
ISSUER=https://localhost:${PC_HTTPS##*:}
TOKEN_URL=https://127.0.0.1:${PC_HTTPS##*:}/token

mkdir -p "$WORK"
if [ "${1:-}" != --summary ]; then
  # One sitting per WORK directory: a second run would rebuild the peer copy and reuse the ports.
  exec 9>"$WORK/.lock"
  flock -n 9 || { echo "another token.sh is running with WORK=$WORK" >&2; exit 1; }
fi
mkdir -p "$OUT/raw"
OUT=$(cd "$OUT" && pwd)

# ---- cleanup: only what we started, by PID ----------------------------------------------
SRV=""          # the `timeout` wrapper of the running Portcullis (TERM is forwarded to it)
PG_SCHEMA=""
stop_server() {
  if [ -n "$SRV" ]; then
    kill "$SRV" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$SRV" || break; sleep 0.2; done
    kill -KILL "$SRV" 2>/dev/null || true
    wait "$SRV" 2>/dev/null || true
    SRV=""
  fi
}
cleanup() {
  stop_server
  if [ -n "$PG_SCHEMA" ]; then
    timeout 30 psql -q "$PG_BASE" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '== %s\n' "$*" >&2; }
port_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }  # zombies count as gone
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# ---- summary (also: scripts/bench/token.sh --summary OUTDIR) ------------------------------------
# rows.tsv: variant auth conn c tokens/s p50 p99 server_cpu err; summary.md joins every Portcullis
# row with the peer's row of the same auth, connection mode and c. ratio = Portcullis / peer
# tokens/s; "CPU µs/token" = server CPU time per token (server_cpu / tokens/s).
parse() { # file variant -> TSV
  [ -f "$1" ] || return 0
  sed -E 's/= +/=/g; s/([0-9])ms/\1/g' "$1" | awk -v v="$2" '
    $1=="tls" || $1=="pkjwt" {
      r=""; p50=""; p99=""; cpu="?"; err=""; c=""
      for (i=1;i<=NF;i++) { split($i, kv, "=")
        if (kv[1]=="c") c=kv[2]; else if (kv[1]=="rps") r=kv[2]; else if (kv[1]=="p50") p50=kv[2]
        else if (kv[1]=="p99") p99=kv[2]; else if (kv[1]=="server_cpu") cpu=kv[2]; else if (kv[1]=="err") err=kv[2] }
      print v "\t" $1 "\t" $2 "\t" c "\t" r "\t" p50 "\t" p99 "\t" cpu "\t" err }'
}
summarize() {
  {
    parse "$OUT/portcullis-es256.txt" portcullis-es256
    parse "$OUT/portcullis-ps256.txt" portcullis-ps256
    parse "$OUT/portcullis-postgres.txt" portcullis-postgres
    parse "$OUT/portcullis-tuned.txt" portcullis-tuned
    parse "$OUT/peer.txt" peer
  } > "$OUT/rows.tsv"
  awk -F'\t' '
    function auth(a) { return a=="tls" ? "tls_client_auth" : "private_key_jwt" }
    function us(cpu, rps) { sub(/%/, "", cpu); return (rps > 0 && cpu != "?") ? sprintf("%.0f", cpu * 10000 / rps) : "?" }
    { k=$2 SUBSEP $3 SUBSEP $4 }
    $1=="peer" { prps[k]=$5; pp50[k]=$6; pp99[k]=$7; pcpu[k]=$8; perr[k]=$9; next }
    { n++; row[n]=$0 }
    END {
      print "| variant | client auth | connection | c | tokens/s | p50 ms | p99 ms | server CPU | CPU µs/token | err | peer tokens/s | peer p50 ms | peer p99 ms | peer CPU | peer CPU µs/token | peer err | ratio |"
      print "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
      for (i=1;i<=n;i++) { split(row[i], f, "\t"); k=f[2] SUBSEP f[3] SUBSEP f[4]
        has = (k in prps)
        ratio = (has && prps[k]>0) ? sprintf("%.2f×", f[5]/prps[k]) : "–"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
          substr(f[1],12), auth(f[2]), f[3], f[4], f[5], f[6], f[7], f[8], us(f[8], f[5]), f[9],
          (has ? prps[k] : "–"), (has ? pp50[k] : "–"), (has ? pp99[k] : "–"), (has ? pcpu[k] : "–"),
          (has ? us(pcpu[k], prps[k]) : "–"), (has ? perr[k] : "–"), ratio }
    }' "$OUT/rows.tsv" > "$OUT/summary.md"
}
if [ "${1:-}" = --summary ]; then summarize; cat "$OUT/summary.md"; exit 0; fi

# ---- build ------------------------------------------------------------------------------
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
  say "using prebuilt $BIN"
else
  say "building portcullis -> $WORK/portcullis"
  go build -o "$WORK/portcullis" ./cmd/portcullis
  BIN=$WORK/portcullis
fi

say "preparing the peer copy in $WORK/peers"
mkdir -p "$WORK/peers"
rsync -a --delete --exclude node_modules/ --exclude certs/ --exclude results/ \
  --exclude loadgen/loadgen "$PEERS_SRC/" "$WORK/peers/"
lockhash=$(sha256sum "$WORK/peers/oidc-provider/package-lock.json" | cut -c1-64)
if [ "$(cat "$WORK/peers/.npm-ci-done" 2>/dev/null || true)" != "$lockhash" ] \
   || [ ! -x "$WORK/peers/oidc-provider/node_modules/.bin/node" ]; then
  (cd "$WORK/peers/oidc-provider" && timeout 600 npm ci --no-audit --no-fund)
  echo "$lockhash" > "$WORK/peers/.npm-ci-done"
fi
(cd "$WORK/peers" && timeout 60 ./make-certs.sh >/dev/null)
# A previous pinned sitting left ./loadgen as a wrapper script: go build refuses to overwrite it.
rm -f "$WORK/peers/loadgen/loadgen" "$WORK/peers/loadgen/loadgen.bin"
(cd "$WORK/peers/loadgen" && go build -o loadgen .)
LG=$WORK/peers/loadgen/loadgen
if [ "$PIN" = 1 ]; then
  # The peer's bench.sh starts its server and runs ./loadgen itself: it runs under taskset -c 0
  # (the server inherits core 0) and its ./loadgen becomes a wrapper that moves to core 1.
  mv "$LG" "$LG.bin"
  printf '#!/bin/sh\nexec taskset -c 1 "$(dirname "$0")/loadgen.bin" "$@"\n' > "$LG"
  chmod +x "$LG"
  LG=$LG.bin
fi
PEER_NODE=$WORK/peers/oidc-provider/node_modules/.bin/node

# ---- machine and versions ---------------------------------------------------------------
{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc=$(nproc)"
  echo "cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  echo "mem=$(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "go=$(go env GOVERSION)"
  echo "peer_node=$("$PEER_NODE" --version)"
  echo "oidc_provider=$(node -p "require('$WORK/peers/oidc-provider/node_modules/oidc-provider/package.json').version" 2>/dev/null || echo ?)"
  echo "portcullis_commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)"
  echo "portcullis_tree_changes=$(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l)"
  echo "dur=$DUR concs=$CONCS auths=$AUTHS kas=$KAS log_level=$LOG_LEVEL server_cert=$SERVER_CERT client_chain=$CLIENT_CHAIN pc_gogc=${PC_GOGC:-default} pc_env=${PC_ENV:-} lg_env=${LG_ENV:-}"
  echo "pinned=$([ "$PIN" = 1 ] && echo "servers on core 0, load generators on core 1 (taskset)" || echo no)"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# ---- one Portcullis variant ---------------------------------------------------------------
# portcullis_run NAME KAS CONCS [extra env assignments...]
portcullis_run() {
  local name=$1 kas=$2 concs=$3; shift 3
  local D=$WORK/data-$name W=$WORK/clients-$name log=$OUT/portcullis-$name.txt
  rm -rf "$D" "$W"; mkdir -p "$D" "$W"
  for a in "$PC_HTTPS" "$PC_OPS"; do
    port_free "$a" || { echo "port $a is in use; set PC_HTTPS / PC_OPS" >&2; return 1; }
  done
  # The load generator stands for many clients from one address (c up to 32, plus connections
  # still closing): the per-address connection cap (default 8) is raised for it.
  local -a env=(PORTCULLIS_LISTEN_HTTPS="$PC_HTTPS" PORTCULLIS_LISTEN_OPS="$PC_OPS" PORTCULLIS_LISTEN_PUBLIC=127.0.0.1:0
                PORTCULLIS_ISSUER="$ISSUER" PORTCULLIS_LOG_LEVEL="$LOG_LEVEL"
                PORTCULLIS_HTTP_MAX_CONNECTIONS_PER_ADDRESS=1024)
  local server_ca=$D/pki/ca.crt
  if [ "$SERVER_CERT" = peer ]; then
    env+=(PORTCULLIS_TLS_CERT_FILE="$WORK/peers/certs/server.crt" PORTCULLIS_TLS_KEY_FILE="$WORK/peers/certs/server.key")
    server_ca=$WORK/peers/certs/ca.crt
  fi
  if [ -n "${PC_GOGC:-}" ]; then env+=(GOGC="$PC_GOGC"); fi   # else serve's own default
  if [ -n "${PC_ENV:-}" ]; then read -r -a pc_env <<<"$PC_ENV"; env+=("${pc_env[@]}"); fi
  env+=("$@")
  say "portcullis[$name]: serve --data-dir $D (${*:-defaults})"
  local slog=$WORK/server-$name.log   # ~30 MB/s at info level: kept out of OUT, digested below
  env "${env[@]}" "${SRV_PIN[@]}" timeout -k 5 1800 "$BIN" serve --data-dir "$D" > "$slog" 2>&1 &
  SRV=$!
  local ok=0
  for _ in $(seq 1 150); do
    if curl -sf -m 2 "http://$PC_OPS/readyz" >/dev/null 2>&1; then ok=1; break; fi
    alive "$SRV" || break
    sleep 0.2
  done
  if [ $ok != 1 ]; then
    echo "portcullis[$name] did not become ready; last log lines:" >&2
    tail -20 "$slog" >&2
    return 1
  fi
  local PID
  PID=$(pgrep -P "$SRV" | head -1)

  # Client certificates from the server's own sandbox CA; clients registered beside it.
  "$BIN" pki issue qwac --dir "$D/pki" --out "$W/tls-client" --org-id PSDGB-FCA-100001 --roles AISP,PISP >/dev/null
  "$BIN" pki issue qwac --dir "$D/pki" --out "$W/pkjwt-client" --org-id PSDGB-FCA-100002 --roles AISP,PISP >/dev/null
  if [ "$CLIENT_CHAIN" = leaf ]; then   # what the peer's clients send: the leaf alone
    for c in tls-client pkjwt-client; do openssl x509 -in "$W/$c.crt" -out "$W/$c.crt"; done
  fi
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/pkjwt-signing.key" 2>/dev/null
  # Public JWK: the last 64 bytes of a P-256 SubjectPublicKeyInfo are X || Y.
  local spki x y dn
  spki=$W/pkjwt-signing.pub.der
  openssl pkey -in "$W/pkjwt-signing.key" -pubout -outform DER -out "$spki"
  x=$(tail -c 64 "$spki" | head -c 32 | b64url); y=$(tail -c 32 "$spki" | b64url)
  printf '{"keys":[{"kty":"EC","crv":"P-256","x":"%s","y":"%s","kid":"pkjwt-1","use":"sig","alg":"ES256"}]}\n' \
    "$x" "$y" > "$W/pkjwt-client.jwks.json"
  dn=$(openssl x509 -in "$W/tls-client.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
  env "${env[@]}" "$BIN" client add --data-dir "$D" --id tls-client --auth tls_client_auth \
    --subject-dn "$dn" --grant-type client_credentials --scope accounts --scope payments >/dev/null
  env "${env[@]}" "$BIN" client add --data-dir "$D" --id pkjwt-client --auth private_key_jwt \
    --jwks "$W/pkjwt-client.jwks.json" --grant-type client_credentials --scope accounts --scope payments >/dev/null

  {
    echo "# $(date -u) portcullis $name store=$(grep -o 'database  *[^ ]*' "$slog" | head -1 | awk '{print $2}' | sed 's/:\/\/[^@]*@/:\/\/…@/') access_token_alg=$(grep -o '"alg":"[A-Z0-9]*"' "$slog" | head -1 | cut -d'"' -f4) dur=$DUR nproc=$(nproc)"
    for ka in $kas; do for auth in $AUTHS; do for c in $concs; do
      env "${lg_env[@]}" "${LG_PIN[@]}" "$LG" -url "$TOKEN_URL" -auth "$auth" -client-id "$auth-client" \
        -cert "$W/$auth-client.crt" -key "$W/$auth-client.key" -ca "$server_ca" \
        -jwt-key "$W/pkjwt-signing.key" -jwt-kid pkjwt-1 -aud "$ISSUER" \
        -c "$c" -d "$DUR" -n $MAXREQ -keepalive="$ka" -label "portcullis=$name load1=$(cut -d' ' -f1 /proc/loadavg)" -server-pid "$PID" \
        || echo "loadgen failed: $auth $ka $c"
      echo "    server_rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$PID/status" 2>/dev/null || echo ?)"
    done; done; done
  } | tee "$log"
  if [ "$PERF" = 1 ] && [ "$name" = es256 ]; then perf_profile "$D" "$W" "$PID"; fi
  stop_server
  # Keep every line but the per-request and audit lines, plus their counts and the levels.
  {
    grep -v -e '"msg":"request"' -e '"msg":"audit"' "$slog" | head -500 || true
    echo "# request lines: $(grep -c '"msg":"request"' "$slog" || true)  audit lines: $(grep -c '"msg":"audit"' "$slog" || true)"
    echo "# request lines with status != 200: $(grep '"msg":"request"' "$slog" | grep -vc '"status":200' || true)"
    echo "# lines by level: $(grep -o '"level":"[A-Z]*"' "$slog" | sort | uniq -c | tr -s ' \n' ' ' || true)"
  } > "$OUT/raw/server-$name.log"
  [ "${KEEP_SERVER_LOG:-0}" = 1 ] || rm -f "$slog"
}

# perf_profile D W PID: after the measured matrix, a separate (unmeasured) pass with `perf record`
# attached to the server for keep-alive private_key_jwt and new-connection tls_client_auth at
# c=8: where a live server spends its CPU, TLS handshakes and logging included.
perf_profile() {
  local D=$1 W=$2 PID=$3 auth ka tag prec
  local runs=${PERF_RUNS:-"pkjwt:true tls:false"}
  for run in $runs; do run=${run/:/ }
    read -r auth ka <<<"$run"; tag=perf-$auth-$([ "$ka" = true ] && echo keepalive || echo new-conn)
    timeout -k 5 120 perf record -q -F 499 -g -p "$PID" -o "$OUT/raw/$tag.data" >/dev/null 2>&1 &
    prec=$!
    env "${lg_env[@]}" "${LG_PIN[@]}" "$LG" -url "$TOKEN_URL" -auth "$auth" -client-id "$auth-client" \
      -cert "$W/$auth-client.crt" -key "$W/$auth-client.key" -ca "${server_ca:-$D/pki/ca.crt}" \
      -jwt-key "$W/pkjwt-signing.key" -jwt-kid pkjwt-1 -aud "$ISSUER" \
      -c 8 -d "$DUR" -n $MAXREQ -keepalive="$ka" -label "perf" -server-pid "$PID" > "$OUT/$tag.loadgen.txt" || true
    kill -INT "$prec" 2>/dev/null || true
    wait "$prec" 2>/dev/null || true
    timeout 120 perf report -i "$OUT/raw/$tag.data" --stdio --children -g none --percent-limit 2 \
      --sort symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | sed -E 's/[ -]+$//' | head -150 > "$OUT/$tag.children.txt" || true
    timeout 120 perf report -i "$OUT/raw/$tag.data" --stdio --no-children -g none --percent-limit 0.7 \
      --sort dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | sed -E 's/[ -]+$//' | head -40 > "$OUT/$tag.self.txt" || true
    say "perf: $OUT/$tag.{children,self}.txt"
  done
}

if [ "$ES256" = 1 ]; then portcullis_run es256 "$KAS" "$CONCS"; fi
if [ "$PS256" = 1 ]; then
  portcullis_run ps256 "$PS256_KAS" "$PS256_CONCS" PORTCULLIS_KEYS_ALG=PS256
fi
if [ -n "$TUNED_ENV" ]; then
  read -r -a tuned_env <<<"$TUNED_ENV"
  portcullis_run tuned "$TUNED_KAS" "$TUNED_CONCS" "${tuned_env[@]}"
fi

# ---- the peer, by its own script ---------------------------------------------------------
if [ "$PEER" = 1 ]; then
  say "peer: oidc-provider bench.sh on 127.0.0.1:$PEER_PORT"
  port_free "127.0.0.1:$PEER_PORT" || { echo "port $PEER_PORT is in use; set PEER_PORT" >&2; exit 1; }
  (cd "$WORK/peers" && DUR=$DUR CONCS=$CONCS AUTHS=$AUTHS KAS=$KAS PORT=$PEER_PORT OUT="$OUT/peer" \
     env "${lg_env[@]}" "${SRV_PIN[@]}" timeout -k 10 1800 ./bench.sh) > "$OUT/peer.txt" 2>&1 || echo "peer bench.sh failed (see $OUT/peer.txt)" >&2
  cat "$OUT/peer.txt"
fi

# ---- optional: PostgreSQL ------------------------------------------------------------------
if [ -n "$PG_URL" ]; then
  PG_BASE=$PG_URL
  PG_SCHEMA=bench_$(date -u +%Y%m%d%H%M%S)_$$
  timeout 30 psql -q "$PG_BASE" -c "CREATE SCHEMA $PG_SCHEMA" >/dev/null
  sep='?'; case $PG_URL in *\?*) sep='&';; esac
  portcullis_run postgres "$PG_KAS" "$PG_CONCS" \
    PORTCULLIS_DATABASE_URL="$PG_URL${sep}search_path=$PG_SCHEMA"
fi

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"

# ---- summary -------------------------------------------------------------------------------
summarize

echo
cat "$OUT/machine.txt"
echo
cat "$OUT/summary.md"
echo
echo "raw output: $OUT"
