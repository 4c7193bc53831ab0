//go:build benchpprof

package main

// Built only with -tags benchpprof (scripts/bench/journey.sh): the Go profiler on the
// loopback address in BENCH_PPROF_ADDR (e.g. 127.0.0.1:16060), so that a benchmark can
// say where the server's CPU goes. Never part of a shipped binary.

import (
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("BENCH_PPROF_ADDR")
	if addr == "" {
		return
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		panic("BENCH_PPROF_ADDR must be a loopback host:port")
	}
	go func() { _ = http.ListenAndServe(addr, nil) }()
}
