package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// rebuild deletes the projection and replays the log into a new one,
// returning once it has caught up.
//
// With Kafka it first waits, for as long as ctx lasts, until the log is
// connected (the Kafka log logs each failed attempt); the old projection
// is deleted only then, so an unreachable broker costs nothing.
func rebuild(ctx context.Context, c config, stderr io.Writer) error {
	logger := newLogger(c, stderr)
	reg, err := schemas.NewRegistry()
	if err != nil {
		return fmt.Errorf("load schemas: %w", err)
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
	store, err := openStore(c, reg, logger, promReg)
	if err != nil {
		return err
	}
	defer store.Close()
	logger.Info("replaying the event log into a new projection", "log", logKind(c), "partitions", l.Partitions())

	start := time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- store.Run(runCtx, l) }()
	if err := store.WaitCaughtUp(runCtx); err != nil {
		cancel()
		if rerr := <-done; rerr != nil && !errors.Is(rerr, context.Canceled) {
			return fmt.Errorf("replay: %w", rerr)
		}
		return fmt.Errorf("replay: %w", err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("replay: %w", err)
	}
	var n int64
	for _, off := range store.Applied() {
		n += off
	}
	logger.Info("rebuilt the projection", "records", n, "duration", time.Since(start).String())
	return nil
}
