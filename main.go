// Command scim-bridge is a SCIM 2.0 service provider (RFC 7643, RFC 7644) that
// turns every accepted write into a domain event on a log — Kafka, or an
// embedded log in its data directory — and answers reads from a local Badger
// projection of that log.
//
// Subcommands:
//
//	scim-bridge serve      run the service
//	scim-bridge rebuild    delete the projection and replay the log into it
//	scim-bridge version    print the version
//
// Every flag has an environment variable; `scim-bridge serve --help` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "scim-bridge:", err)
		os.Exit(1)
	}
}

const usage = `scim-bridge: a SCIM 2.0 service provider that turns every write into a domain event.

Usage:
  scim-bridge serve [flags]     run the service (SCIM at http://HOST:PORT/scim/v2)
  scim-bridge rebuild [flags]   delete the projection and replay the event log into it
  scim-bridge token new --tenant NAME
                                print a new bearer token and its line for SCIM_TENANTS_FILE
  scim-bridge version           print the version

Every flag can also be set by its environment variable (shown in brackets).
`

// run is the whole program; tests call it. started, if not nil, receives the
// HTTP listener's address once the service accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, started chan<- string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no subcommand given")
	}
	switch args[0] {
	case "serve":
		cfg, err := parseConfig("serve", args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr, started)
	case "rebuild":
		cfg, err := parseConfig("rebuild", args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		return rebuild(ctx, cfg, stderr)
	case "token":
		return tokenCmd(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "scim-bridge", version())
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage+"\n")
		// The flags of serve and rebuild, with their environment variables.
		if _, err := parseConfig("serve", []string{"--help"}, getenv, stdout); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

func newLogger(c config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// buildVersion is set at build time:
//
//	go build -ldflags "-X main.buildVersion=$(git describe --tags --always --dirty)"
//
// The Dockerfile does it from its VERSION build argument.
var buildVersion string

// version is buildVersion, else the module version when built as a
// dependency (go install …@v1.2.3), else "devel" with the commit that the
// Go toolchain stamps into binaries built in a checkout.
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return "devel+" + rev + dirty
}
