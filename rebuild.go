package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// rebuild deletes the projection and replays the log into a new one. It
// returns nil once the projection has caught up with the end the log had
// when the replay started. Anything else is an error, so that a script or a
// Job never takes a failed rebuild for a done one: the replay stopping
// before that (the projection's reason), ctx ending (interrupted), or no
// log to replay (an embedded log that does not exist).
//
// With Kafka it first waits, for as long as ctx lasts, until the log is
// connected (the Kafka log logs each failed attempt); the old projection
// is deleted only then, so an unreachable broker costs nothing.
func rebuild(ctx context.Context, c config, stderr io.Writer) error {
	logger := newLogger(c, stderr)
	reg, err := loadRegistry(c.SchemasDir)
	if err != nil {
		return fmt.Errorf("load schemas: %w", err)
	}
	if c.KafkaBrokers == "" {
		// Opening creates a missing log: replaying that empty log into the
		// projection of a mistyped SCIM_DATA_DIR would report success.
		dir := filepath.Join(c.DataDir, "log")
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no embedded event log at %s: nothing to rebuild from; check SCIM_DATA_DIR=%s (and KAFKA_BROKERS, if the log is in Kafka)", dir, c.DataDir)
		} else if err != nil {
			return fmt.Errorf("embedded event log: %w", err)
		}
	}

	promReg := prometheus.NewRegistry()
	l, err := openLog(c, logger, promReg)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := awaitLog(ctx, l); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("rebuild interrupted while waiting for the event log to connect; nothing was changed: %w", err)
		}
		return err
	}

	if err := os.RemoveAll(filepath.Join(c.DataDir, "projection")); err != nil {
		return fmt.Errorf("delete the projection: %w", err)
	}
	c.UserNameHints = 0 // a rebuild serves no lookups
	store, err := openStore(c, reg, logger, promReg)
	if err != nil {
		return err
	}
	defer store.Close()
	logger.Info("replaying the event log into a new projection", "log", logKind(c), "partitions", l.Partitions())

	// Run until caught up, or until Run returns, whichever comes first: a
	// replay that stopped never catches up.
	start := time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- store.Run(runCtx, l) }()
	caughtUp := make(chan error, 1)
	go func() { caughtUp <- store.WaitCaughtUp(runCtx) }()
	var runErr error
	select {
	case err := <-caughtUp:
		cancel()
		runErr = <-runDone
		if err != nil {
			return fmt.Errorf("rebuild interrupted before the projection caught up; run it again: %w", err)
		}
	case runErr = <-runDone:
		cancel()
		<-caughtUp
		if ctx.Err() != nil {
			return fmt.Errorf("rebuild interrupted before the projection caught up; run it again: %w", ctx.Err())
		}
		return fmt.Errorf("replay stopped before the projection caught up with the log: %w", runErr)
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return fmt.Errorf("replay: %w", runErr)
	}
	var n int64
	for _, off := range store.Applied() {
		n += off
	}
	logger.Info("rebuilt the projection", "records", n, "duration", time.Since(start).String())
	return nil
}
