package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// Profiling serve under load (serve --debug-pprof 127.0.0.1:6060): Go's
// net/http/pprof handlers on a listener of their own, on loopback only,
// for whoever measures the machine (docs/performance.md). Block and mutex
// profiles are recorded only while it is on: they cost on every
// contended lock.
const (
	pprofBlockRate     = 10_000 // ns: one blocking event sampled per 10 µs blocked
	pprofMutexFraction = 100
)

// startPprof serves the profiles on addr until stop is called; "" is off.
func startPprof(addr string, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	if !isLoopback(addr) {
		return nil, fmt.Errorf("--debug-pprof %s: profiles are served on loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-pprof: %w", err)
	}
	runtime.SetBlockProfileRate(pprofBlockRate)
	runtime.SetMutexProfileFraction(pprofMutexFraction)
	// No /debug/pprof/cmdline: the command line may hold a secret
	// (--nats-password).
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof listener stopped", "err", err)
		}
	}()
	log.Warn("pprof profiles served, for debugging, on loopback only", "pprof", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() {
		_ = srv.Close()
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}, nil
}
