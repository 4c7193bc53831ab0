package main

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/obs"
)

// stateFlags are the flags of every command that reads or writes state (INTERFACE.md):
// --config FILE and --data-dir DIR, plus --dev on serve.
type stateFlags struct {
	config  string
	dataDir string
	dev     bool
}

func (f *stateFlags) register(cmd *cobra.Command, withDev bool) {
	cmd.Flags().StringVar(&f.config, "config", "", "YAML configuration file (default: dev mode on embedded defaults)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "data directory (default ./data)")
	if withDev {
		cmd.Flags().BoolVar(&f.dev, "dev", false, "dev mode: SQLite, sandbox PKI and sample bank under the data dir (default without --config)")
	}
}

// load returns the validated configuration: defaults, then the file, then PORTCULLIS_*
// variables, then these flags. Every failure is a usage error (exit code 2) naming the field.
func (f *stateFlags) load() (*config.Config, error) {
	environ := os.Environ()
	if f.dataDir != "" {
		environ = append(environ, config.EnvPrefix+"DATA_DIR="+f.dataDir)
	}
	if f.dev {
		environ = append(environ, config.EnvPrefix+"DEV=true")
	}
	cfg, err := config.Load(f.config, environ)
	if err == nil {
		err = app.CheckGatewayConfig(cfg)
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("invalid configuration: %w", err)}
	}
	return cfg, nil
}

func newServeCmd() *cobra.Command {
	var f stateFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the authorization server, gateway and consent service",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, cmd)
		},
	}
	f.register(cmd, true)
	return cmd
}

// logFlushTimeout bounds how long shutdown waits for buffered log lines to be written.
const logFlushTimeout = 5 * time.Second

// defaultGCPercent is the garbage collector's target for serve when the environment does not
// set GOGC. Portcullis' live heap is small (tens of MB: caches, connections), so letting it
// grow to five times that before a collection costs little memory and fewer collections
// (the collector was ~6% of the token endpoint's CPU at GOGC=100; A/B figures in
// BENCHMARKS.md). It stays 400 now that floods are bounded: what an attacker can make live is
// bounded by the listeners' connection and HTTP/2 stream caps (an HTTP/2 rapid-reset flood
// peaked under 150 MB RSS at 400 and about 65 MB at 100, BENCHMARKS.md "HTTP/2 rapid
// reset"), and where a memory limit is known (runtime.memory_limit, the container's, or
// GOMEMLIMIT) the collector runs as often as it must near it, whatever GOGC says.
const defaultGCPercent = 400

// applyRuntimeLimits sets serve's garbage-collector target and soft memory limit, unless
// the environment sets them (GOGC, GOMEMLIMIT: the runtime has already applied those):
// the limit is runtime.memory_limit, else 90 % of the container's cgroup limit, else none.
// It returns attributes describing the outcome, for the start-up log.
func applyRuntimeLimits(cfg *config.Config, root fs.FS) []any {
	gogc := "GOGC"
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
		gogc = "default"
	}
	source := "GOMEMLIMIT"
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		var limit int64
		limit, source = memoryLimit(cfg.Runtime.MemoryLimit, root)
		if limit > 0 {
			debug.SetMemoryLimit(limit)
		}
	}
	limit := debug.SetMemoryLimit(-1) // reads the limit in force
	if limit == math.MaxInt64 {
		limit = 0
	}
	percent := debug.SetGCPercent(-1) // reads the target, switching the collector off…
	debug.SetGCPercent(percent)       // …until this line puts it back
	return []any{"gc_percent", percent, "gc_percent_from", gogc, "memory_limit_bytes", limit, "memory_limit_from", source}
}

func serve(ctx context.Context, cfg *config.Config, cmd *cobra.Command) error {
	runtimeAttrs := applyRuntimeLimits(cfg, os.DirFS("/"))
	// Log lines are handed to a writer goroutine that batches them into few write(2) calls
	// (never dropping one: a full buffer makes loggers wait). It is closed last, after the
	// app, so shutdown lines are written too.
	lw := obs.NewLogWriter(cmd.ErrOrStderr(), obs.LogWriterOptions{})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), logFlushTimeout)
		defer cancel()
		_ = lw.Close(ctx)
	}()
	logger := obs.NewLogger(lw, cfg.Log.Level)
	logger.Info("go runtime", runtimeAttrs...)
	a, err := app.New(ctx, cfg, app.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer a.Close()
	a.Banner(cmd.OutOrStdout())
	if a.Sandbox != nil {
		writeFirstCall(cmd.OutOrStdout(), cfg, a)
	}
	return a.Run(ctx)
}

func newMigrateCmd() *cobra.Command {
	var f stateFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and exit",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "migrations applied (%s)\n", st.Dialect())
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the configuration",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("config: missing subcommand (print)")}
		},
	}
	var f stateFlags
	print := &cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration, secrets redacted",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			out, err := printConfig(cfg)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f.register(print, false)
	cmd.AddCommand(print)
	return cmd
}
