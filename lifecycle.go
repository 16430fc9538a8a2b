package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// lifecycle is what serve has started, and how to stop it. serve sets up
// one part after the other and records, right after each, how to undo it
// (onStop); stop undoes them in reverse. So the parts set up last, which
// use the earlier ones, stop first: the HTTP servers drain, then the
// bridge closes, then the projection stops following the log, and the
// log and Badger close last. A setup step that fails returns, and stop
// undoes exactly what was set up before it.
//
// Goroutines are started with run or serveHTTP, whose stop steps wait for
// them: nothing serve started outlives it. One of them ending on its own
// (an HTTP server failing, the projection stopping) is a failure that ends
// serve: see failed.
type lifecycle struct {
	steps []stopStep

	failOnce sync.Once
	failCh   chan struct{} // closed by the first fail
	failErr  error
}

type stopStep struct {
	name string
	fn   func() error
}

func newLifecycle() *lifecycle {
	return &lifecycle{failCh: make(chan struct{})}
}

// onStop records how to undo the step just set up.
func (lc *lifecycle) onStop(name string, fn func() error) {
	lc.steps = append(lc.steps, stopStep{name, fn})
}

// stop runs the recorded steps in reverse order, each once, and returns
// their errors, each named by its step.
func (lc *lifecycle) stop() error {
	var errs []error
	for i := len(lc.steps) - 1; i >= 0; i-- {
		s := lc.steps[i]
		if err := s.fn(); err != nil {
			errs = append(errs, fmt.Errorf("stop: %s: %w", s.name, err))
		}
	}
	lc.steps = nil
	return errors.Join(errs...)
}

// fail records the first failure and wakes failed.
func (lc *lifecycle) fail(err error) {
	lc.failOnce.Do(func() {
		lc.failErr = err
		close(lc.failCh)
	})
}

// failed is closed when something serve started has ended on its own;
// err says what.
func (lc *lifecycle) failed() <-chan struct{} { return lc.failCh }

func (lc *lifecycle) err() error {
	select {
	case <-lc.failCh:
		return lc.failErr
	default:
		return nil
	}
}

// run runs fn in a goroutine until its context is cancelled, which its
// stop step does before waiting for fn to return. fn returning before
// that, with an error or not, is a failure named by name.
func (lc *lifecycle) run(name string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := fn(ctx)
		if ctx.Err() == nil {
			if err == nil {
				err = errors.New("stopped")
			}
			lc.fail(fmt.Errorf("%s: %w", name, err))
			err = nil // reported
		}
		done <- err
	}()
	lc.onStop(name, func() error {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	})
}

// listen listens on addr, the value of the setting env; its stop step
// closes the listener if the server has not.
func (lc *lifecycle) listen(env, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", env, addr, err)
	}
	lc.onStop("close the "+env+" listener", func() error {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	return ln, nil
}

// serveHTTP serves srv on ln. Its stop step stops accepting and waits up
// to grace for the requests in flight, then closes what is left.
func (lc *lifecycle) serveHTTP(name string, srv *http.Server, ln net.Listener, grace time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			lc.fail(fmt.Errorf("%s: %w", name, err))
		}
	}()
	lc.onStop(name, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		err := srv.Shutdown(ctx)
		if err != nil {
			srv.Close()
			err = fmt.Errorf("requests still running after %v: %w", grace, err)
		}
		<-done
		return err
	})
}
