#!/usr/bin/env bash
# Soak: $DUR (120 s) at concurrency $C (64) through nginx (deploy/nginx/portcullis-mtls.conf.template,
# mTLS terminated at nginx, certificate forwarded in a header) to two Portcullis nodes in header
# mode on one PostgreSQL schema with shared signing keys (keys.source database, one KEK), over a
# mix of client_credentials token requests, gateway calls (payment status through the gateway to
# the sandbox bank) and account-access consent creations: scripts/soakload.
#
# Reports (OUT/soak.txt, OUT/summary.md): requests and latency percentiles per operation, errors
# by kind (anything but the expected status, body and echoed x-fapi-interaction-id), the RSS of
# both nodes every 5 s with their live heap at the last GC and goroutines (from /metrics), and
# each node's own count of 5xx from its /metrics.
#
# Usage: scripts/bench/soak.sh
# Env:   DUR=120s C=64 MIX=1,2,2 (token,gateway,consent weights per worker cycle)
#        PG_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable   a schema is created and dropped
#        NGINX=/usr/sbin/nginx  WORK=/tmp/portcullis-soak  OUT=results/soak-<stamp>
#        BASE_PORT=18800        ports BASE_PORT..BASE_PORT+9 (must be free)
# Everything is bounded in time; only the processes this script started are stopped, by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DUR=${DUR:-120s}; C=${C:-64}; MIX=${MIX:-1,2,2}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
NGINX=${NGINX:-/usr/sbin/nginx}
WORK=${WORK:-/tmp/portcullis-soak}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/results/soak-$stamp}
BASE_PORT=${BASE_PORT:-18800}
P=$BASE_PORT
A_HTTPS=127.0.0.1:$P A_OPS=127.0.0.1:$((P+1)) A_PUB=127.0.0.1:$((P+2)) A_ADM=127.0.0.1:$((P+3))
B_HTTPS=127.0.0.1:$((P+4)) B_OPS=127.0.0.1:$((P+5)) B_PUB=127.0.0.1:$((P+6)) B_ADM=127.0.0.1:$((P+7))
LB=127.0.0.1:$((P+8))
ISSUER=https://localhost:$((P+8))

command -v "$NGINX" >/dev/null || { echo "nginx not found ($NGINX): scripts/deps.sh installs it" >&2; exit 1; }
mkdir -p "$WORK" "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$WORK/.lock"
flock -n 9 || { echo "another soak.sh is running with WORK=$WORK" >&2; exit 1; }

say() { printf '== %s\n' "$*" >&2; }
port_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }
for a in "$A_HTTPS" "$A_OPS" "$A_PUB" "$A_ADM" "$B_HTTPS" "$B_OPS" "$B_PUB" "$B_ADM" "$LB"; do
  port_free "$a" || { echo "port $a is in use; set BASE_PORT" >&2; exit 1; }
done

# ---- cleanup: only what we started, by PID -------------------------------------------------
PIDS=()          # timeout wrappers of the nodes, and nginx
PG_SCHEMA=""
stop_pid() {
  local p=$1 sig=${2:-TERM}
  kill -"$sig" "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do alive "$p" || break; sleep 0.2; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  if [ -n "$PG_SCHEMA" ]; then
    timeout 30 psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build -----------------------------------------------------------------------------------
say "building portcullis and soakload in $WORK"
go build -o "$WORK/portcullis" ./cmd/portcullis
go build -o "$WORK/soakload" ./scripts/soakload
BIN=$WORK/portcullis
rm -rf "$WORK/a" "$WORK/b" "$WORK/nginx" "$WORK/tpp"
mkdir -p "$WORK/a" "$WORK/b" "$WORK/nginx/tmp" "$WORK/tpp"

# ---- PostgreSQL: a fresh schema ---------------------------------------------------------------
PG_SCHEMA=soak_$(date -u +%Y%m%d%H%M%S)_$$
timeout 30 psql -q "$PG_URL" -c "CREATE SCHEMA $PG_SCHEMA" >/dev/null
sep='?'; case $PG_URL in *\?*) sep='&';; esac
DB_URL="$PG_URL${sep}search_path=$PG_SCHEMA"
KEK=$(head -c 32 /dev/urandom | base64 -w0)

{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc=$(nproc) cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  echo "go=$(go env GOVERSION) nginx=$("$NGINX" -v 2>&1 | sed 's/.*: //') postgres=$(timeout 10 psql -Atq "$PG_URL" -c 'show server_version' 2>/dev/null || echo ?)"
  echo "portcullis_commit=$(git -C "$ROOT" rev-parse --short HEAD) tree_changes=$(git -C "$ROOT" status --porcelain | wc -l)"
  echo "dur=$DUR c=$C mix(token,gateway,consent)=$MIX"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# ---- the nodes --------------------------------------------------------------------------------
# Both in dev mode (sandbox CA, bank), header mode trusting 127.0.0.1 (nginx), keys from the
# database under one KEK. Node B trusts node A's sandbox CA and serves node A's server
# certificate, as internal/app/nginx_e2e_test.go sets them up.
common=(PORTCULLIS_DATABASE_URL="$DB_URL" PORTCULLIS_KEYS_SOURCE=database PORTCULLIS_KEYS_KEK="$KEK"
        PORTCULLIS_ISSUER="$ISSUER" PORTCULLIS_LOG_LEVEL=info
        PORTCULLIS_MTLS_HEADER=X-SSL-Client-Cert PORTCULLIS_MTLS_HEADER_FORMAT=pem-urlencoded
        PORTCULLIS_MTLS_TRUSTED_PROXIES=127.0.0.1/32
        PORTCULLIS_HTTP_MAX_CONNECTIONS_PER_ADDRESS=1024)  # every connection comes from nginx
start_node() { # name https ops public admin [config file]
  local name=$1 https=$2 ops=$3 pub=$4 adm=$5 cfg=${6:-}
  local -a args=(serve --data-dir "$WORK/$name")
  if [ -n "$cfg" ]; then args+=(--config "$cfg"); fi
  env "${common[@]}" PORTCULLIS_DEV=true PORTCULLIS_LISTEN_HTTPS="$https" PORTCULLIS_LISTEN_OPS="$ops" \
    PORTCULLIS_LISTEN_PUBLIC="$pub" PORTCULLIS_PUBLIC_URL="https://localhost:${pub##*:}" PORTCULLIS_LISTEN_ADMIN="$adm" \
    timeout -k 5 900 "$BIN" "${args[@]}" > "$WORK/server-$name.log" 2>&1 &
  PIDS+=($!)
  local ok=0
  for _ in $(seq 1 300); do
    if curl -sf -m 2 "http://$ops/readyz" >/dev/null 2>&1; then ok=1; break; fi
    alive "$!" || break
    sleep 0.2
  done
  if [ $ok != 1 ]; then echo "node $name did not become ready:" >&2; tail -20 "$WORK/server-$name.log" >&2; exit 1; fi
}
say "node A on $A_HTTPS"
start_node a "$A_HTTPS" "$A_OPS" "$A_PUB" "$A_ADM"
A_PID=$(pgrep -P "${PIDS[0]}" | head -1)
PKI=$WORK/a/pki
cat > "$WORK/b.yaml" <<YAML
dev: true
trust:
  anchors:
    - name: sandbox-node-a
      file: $PKI/ca.crt
      profile: eidas
  intermediates_file: $PKI/issuing.crt
tls:
  cert_file: $PKI/server.crt
  key_file: $PKI/server.key
keys:
  seal_cert_file: $PKI/bank-seal.crt
  seal_key_file: $PKI/bank-seal.key
YAML
say "node B on $B_HTTPS"
start_node b "$B_HTTPS" "$B_OPS" "$B_PUB" "$B_ADM" "$WORK/b.yaml"
B_PID=$(pgrep -P "${PIDS[1]}" | head -1)

# ---- the TPP: a QWAC of node A's CA, registered once in the shared database --------------------
"$BIN" pki issue qwac --dir "$PKI" --out "$WORK/tpp/qwac" --org-id PSDGB-FCA-500001 --roles AISP,PISP >/dev/null
dn=$(openssl x509 -in "$WORK/tpp/qwac.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
env "${common[@]}" PORTCULLIS_DEV=true "$BIN" client add --data-dir "$WORK/a" --id soak-tpp --auth tls_client_auth \
  --subject-dn "$dn" --grant-type client_credentials --scope accounts --scope payments >/dev/null

# ---- nginx ------------------------------------------------------------------------------------
vars=(PORTCULLIS_LISTEN="$LB" PORTCULLIS_SERVER_NAME=localhost PORTCULLIS_TLS_CERT="$PKI/server.crt"
      PORTCULLIS_TLS_KEY="$PKI/server.key" PORTCULLIS_NODE_A="$A_HTTPS" PORTCULLIS_NODE_B="$B_HTTPS"
      PORTCULLIS_NODE_CA="$PKI/ca.crt" PORTCULLIS_NODE_NAME=localhost)
N=$WORK/nginx
site=$(cat deploy/nginx/portcullis-mtls.conf.template)
for kv in "${vars[@]}"; do site=${site//"\${${kv%%=*}}"/${kv#*=}}; done
if grep -Eq '\$\{PORTCULLIS_[A-Z_]+\}' <<<"$site"; then echo "unfilled placeholder in the nginx template" >&2; exit 1; fi
printf '%s\n' "$site" > "$N/portcullis-mtls.conf"
for d in body proxy fastcgi uwsgi scgi; do mkdir -p "$N/tmp/$d"; done
{
  if [ "$(id -u)" = 0 ]; then echo "user root;"; fi
  echo "worker_processes 1;"; echo "pid $N/nginx.pid;"; echo "error_log $N/error.log warn;"
  echo "events { worker_connections 1024; }"
  echo "http {"; echo "  access_log off;"
  echo "  client_body_temp_path $N/tmp/body; proxy_temp_path $N/tmp/proxy; fastcgi_temp_path $N/tmp/fastcgi;"
  echo "  uwsgi_temp_path $N/tmp/uwsgi; scgi_temp_path $N/tmp/scgi;"
  echo "  include $N/portcullis-mtls.conf;"; echo "}"
} > "$N/nginx.conf"
timeout 30 "$NGINX" -p "$N" -c "$N/nginx.conf" -e "$N/error.log" -t 2>"$N/test.log" || { cat "$N/test.log" >&2; exit 1; }
setsid timeout -k 5 900 "$NGINX" -p "$N" -c "$N/nginx.conf" -e "$N/error.log" -g 'daemon off;' > "$N/stderr.log" 2>&1 &
NGINX_PID=$!
PIDS=("$NGINX_PID" "${PIDS[@]}")   # stopped first
for _ in $(seq 1 100); do port_free "$LB" || break; alive "$NGINX_PID" || break; sleep 0.1; done
port_free "$LB" && { echo "nginx does not listen on $LB" >&2; cat "$N/error.log" >&2; exit 1; }

# ---- the soak ---------------------------------------------------------------------------------
say "soak: $DUR at c=$C through nginx $LB (mix $MIX)"
timeout -k 5 $(( ${DUR%s} + 120 )) "$WORK/soakload" -url "https://$LB" -cert "$WORK/tpp/qwac.crt" -key "$WORK/tpp/qwac.key" \
  -ca "$PKI/ca.crt" -client-id soak-tpp -c "$C" -d "$DUR" -mix "$MIX" -pids "node_a=$A_PID,node_b=$B_PID" \
  -metrics "node_a=http://$A_OPS/metrics,node_b=http://$B_OPS/metrics" \
  | tee "$OUT/soak.txt"
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"

# ---- each node's own view: requests and 5xx by route, from /metrics --------------------------
for n in a b; do
  ops=$A_OPS; [ $n = b ] && ops=$B_OPS
  curl -s -m 10 "http://$ops/metrics" > "$OUT/metrics-$n.txt" || true
  {
    echo "node $n: requests by route and code:"
    grep '^portcullis_http_requests_total' "$OUT/metrics-$n.txt" | sed 's/^portcullis_http_requests_total//' | sort || true
    echo "node $n: gateway checks, client authentications and token requests by outcome:"
    grep -E '^portcullis_(gateway_checks|client_authentications|token_requests)_total' "$OUT/metrics-$n.txt" | sort || true
    echo "node $n: error-level log lines: $(grep -c '"level":"ERROR"' "$WORK/server-$n.log" || true)"
  } >> "$OUT/nodes.txt"
done
grep -v -e '"msg":"request"' -e '"msg":"audit"' "$WORK/server-a.log" | head -200 > "$OUT/server-a.log" || true
grep -v -e '"msg":"request"' -e '"msg":"audit"' "$WORK/server-b.log" | head -200 > "$OUT/server-b.log" || true
cat "$OUT/nodes.txt"
cat "$OUT/machine.txt"
echo "raw output: $OUT"
