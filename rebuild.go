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
func rebuild(ctx context.Context, c config, stderr io.Writer) error {
	logger := newLogger(c, stderr)
	reg, err := schemas.NewRegistry()
	if err != nil {
		return fmt.Errorf("load schemas: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(c.DataDir, "projection")); err != nil {
		return fmt.Errorf("delete the projection: %w", err)
	}
	promReg := prometheus.NewRegistry()
	store, err := openStore(c, reg, logger, promReg)
	if err != nil {
		return err
	}
	defer store.Close()
	l, err := connectLog(ctx, c, logger, promReg)
	if err != nil {
		return err
	}
	defer l.Close()
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

// pprofMux serves Go's profiler, for SCIM_DEBUG_LISTEN only.
