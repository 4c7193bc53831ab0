#!/usr/bin/env bash
# HTTP/2 rapid-reset benchmark (CVE-2023-44487): does the dev server keep its memory bounded and
# keep answering other clients while an unauthenticated client floods it with HEADERS+RST_STREAM?
#
# What it does, all on loopback:
#   1. starts `portcullis serve` (dev mode, fresh data dir) and waits for /readyz;
#   2. runs scripts/rapidreset from source address $ATTACK_SRC (default 127.0.0.2, so that the
#      attacker is another client address than the probe) with $CONNS connections for $DUR or
#      $STREAMS streams, whichever ends first; no client certificate, no token;
#   3. meanwhile samples the server's VmRSS every $SAMPLE s, and every $SAMPLE s makes one fresh
#      request (new TLS connection, from 127.0.0.1) to /.well-known/openid-configuration with curl,
#      recording its status and total time (curl gives up after 10 s: counted as a failure);
#   4. stops the server by PID and prints: RSS before / peak (VmHWM) / after, the probe's p50 and
#      max latency and failures, and the attack's own counters.
#
# Usage:  scripts/bench/rapidreset.sh
#         BENCH_BIN=/tmp/pc-before scripts/bench/rapidreset.sh     # another build (e.g. before a fix)
# Env:
#   DUR=30s CONNS=32 STREAMS=50000000   the attack's bounds
#   ATTACK_SRC=127.0.0.2                the attacker's source address (127.0.0.1: same as the probe)
#   SAMPLE=0.5                          seconds between RSS samples and between probe requests
#   PC_HTTPS=127.0.0.1:18543 PC_OPS=127.0.0.1:19190   ports (must be free)
#   PC_ENV=                             more NAME=VALUE words for the server's environment (GOGC=…)
#   BENCH_BIN=                          a prebuilt binary instead of `go build ./cmd/portcullis`
#   WORK=/tmp/portcullis-rapidreset     build, data dir, server log
# Only processes this script started are stopped, by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DUR=${DUR:-30s}; CONNS=${CONNS:-32}; STREAMS=${STREAMS:-50000000}
ATTACK_SRC=${ATTACK_SRC:-127.0.0.2}; SAMPLE=${SAMPLE:-0.5}
PC_HTTPS=${PC_HTTPS:-127.0.0.1:18543}; PC_OPS=${PC_OPS:-127.0.0.1:19190}
WORK=${WORK:-/tmp/portcullis-rapidreset}
mkdir -p "$WORK"

SRV=""; ATK=""
stop() { # PID: TERM, wait up to 10 s, then KILL
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() { stop "$ATK"; stop "$SRV"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf '== %s\n' "$*" >&2; }
port_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
kb() { awk -v k="$1" '$1==k":"{print $2}' "/proc/$2/status" 2>/dev/null || echo 0; }

if [ -n "${BENCH_BIN:-}" ]; then BIN=$BENCH_BIN; else
  say "building portcullis -> $WORK/portcullis"
  go build -o "$WORK/portcullis" ./cmd/portcullis
  BIN=$WORK/portcullis
fi
go build -o "$WORK/rapidreset" ./scripts/rapidreset

for a in "$PC_HTTPS" "$PC_OPS"; do port_free "$a" || { echo "port $a is in use" >&2; exit 1; }; done
D=$WORK/data; rm -rf "$D"; mkdir -p "$D"
env_args=(PORTCULLIS_LISTEN_HTTPS="$PC_HTTPS" PORTCULLIS_LISTEN_OPS="$PC_OPS"
          PORTCULLIS_ISSUER="https://localhost:${PC_HTTPS##*:}" PORTCULLIS_LOG_LEVEL=info)
if [ -n "${PC_ENV:-}" ]; then read -r -a pc_env <<<"$PC_ENV"; env_args+=("${pc_env[@]}"); fi
say "serve --data-dir $D (${PC_ENV:-default environment})"
env "${env_args[@]}" "$BIN" serve --data-dir "$D" > "$WORK/server.log" 2>&1 &
SRV=$!
ok=0
for _ in $(seq 1 150); do
  if curl -sf -m 2 "http://$PC_OPS/readyz" >/dev/null 2>&1; then ok=1; break; fi
  kill -0 "$SRV" 2>/dev/null || break
  sleep 0.2
done
[ $ok = 1 ] || { echo "server did not become ready:" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
PROBE_URL="https://127.0.0.1:${PC_HTTPS##*:}/.well-known/openid-configuration"
curl -sk -o /dev/null -m 10 "$PROBE_URL" || true   # warm-up
rss_before=$(kb VmRSS "$SRV")

say "attack: $CONNS connections from $ATTACK_SRC for $DUR (at most $STREAMS streams)"
"$WORK/rapidreset" -addr "$PC_HTTPS" -source "$ATTACK_SRC" -conns "$CONNS" -duration "$DUR" \
  -streams "$STREAMS" > "$WORK/attack.txt" 2>&1 &
ATK=$!
: > "$WORK/rss.txt"; : > "$WORK/probe.txt"
while kill -0 "$ATK" 2>/dev/null; do
  kb VmRSS "$SRV" >> "$WORK/rss.txt"
  curl -sk -o /dev/null -m 10 --interface 127.0.0.1 -w '%{http_code} %{time_total}\n' "$PROBE_URL" \
    >> "$WORK/probe.txt" 2>/dev/null || echo "000 10" >> "$WORK/probe.txt"
  sleep "$SAMPLE"
done
wait "$ATK" || true; ATK=""
rss_hwm=$(kb VmHWM "$SRV"); rss_after=$(kb VmRSS "$SRV")
alive=yes; kill -0 "$SRV" 2>/dev/null || alive=no
stop "$SRV"; SRV=""

sort -n "$WORK/rss.txt" | tail -1 > "$WORK/rss-max.txt"
{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  echo "load_at_end=$(cut -d" " -f1-3 /proc/loadavg)"
  echo "binary=$BIN commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?) pc_env=${PC_ENV:-}"
  cat "$WORK/attack.txt"
  echo "server_alive_at_end=$alive"
  echo "rss_mb before=$((rss_before/1024)) peak_hwm=$((rss_hwm/1024)) max_sampled=$(( $(cat "$WORK/rss-max.txt")/1024 )) after=$((rss_after/1024))"
  awk '{n++; if ($1=="200") { ok++; t[ok]=$2 } else fail++}
       END { if (ok>0) { asort(t); p50=t[int((ok+1)/2)]; mx=t[ok] } else { p50="-"; mx="-" }
             printf "probe requests=%d ok=%d failed=%d p50_s=%s max_s=%s\n", n, ok, fail+0, p50, mx }' "$WORK/probe.txt"
} | tee "$WORK/summary.txt"
