package tenants

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// DefaultInterval is how often a Watcher polls its file by default.
const DefaultInterval = 5 * time.Second

// Options are the optional settings of a Watcher; the zero value is usable.
type Options struct {
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics are kept but not registered
	Interval   time.Duration         // poll period of Run; 0: DefaultInterval
}

// Watcher serves the tenant table of a file and reloads it while running.
// It authenticates with whichever table is current; a reload swaps the
// table atomically, so a request sees the old table or the new one, never a
// mix. It is safe for concurrent use.
//
// Reloads poll the file's content rather than watching for file events:
// Kubernetes updates a mounted Secret by swapping a symlink, which inotify
// on the file itself does not see.
type Watcher struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	metrics  *metrics
	table    atomic.Pointer[Table]

	mu      sync.Mutex        // serializes reloads
	sum     [sha256.Size]byte // content of the table in use
	badSum  [sha256.Size]byte // content that last failed to parse
	hasBad  bool
	newTick func(time.Duration) (<-chan time.Time, func()) // tests replace it
}

// Open loads the tenants file at path. A missing or invalid file is an
// error: the service must not start without its tenants.
func Open(path string, opts Options) (*Watcher, error) {
	if opts.Interval < 0 {
		return nil, fmt.Errorf("negative tenants reload interval %v", opts.Interval)
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tenants file: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("tenants file %s: %w", path, err)
	}
	w := &Watcher{
		path:     path,
		interval: opts.Interval,
		log:      logger,
		metrics:  newMetrics(opts.Registerer),
		sum:      sha256.Sum256(data),
		newTick: func(d time.Duration) (<-chan time.Time, func()) {
			tk := time.NewTicker(d)
			return tk.C, tk.Stop
		},
	}
	w.table.Store(t)
	w.metrics.lastSuccess.Set(1)
	w.metrics.tenants.Set(float64(len(t.names)))
	return w, nil
}

// Authenticate authenticates token against the current table.
func (w *Watcher) Authenticate(token string) (tenant string, ok bool) {
	return w.table.Load().Authenticate(token)
}

// Table returns the current table.
func (w *Watcher) Table() *Table { return w.table.Load() }

// Run reloads the file every Options.Interval until ctx is done, and
// returns ctx.Err(). A file that fails to read or parse is logged at Error,
// counted in scim_tenants_reload_errors_total, and the table in use is kept;
// the same bad content is reported once, not at every poll.
func (w *Watcher) Run(ctx context.Context) error {
	tick, stop := w.newTick(w.interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			changed, err := w.Reload()
			switch {
			case err != nil:
				w.log.Error("tenants file rejected; keeping the previous tenants", "path", w.path, "err", err)
			case changed:
				w.log.Info("tenants file reloaded", "path", w.path, "tenants", len(w.Table().names))
			}
		}
	}
}

// Reload reads the file once and, if its content changed and is valid,
// swaps the table. It reports whether the table changed. An error leaves
// the table in use; it is counted, not logged (Run logs it). Content that
// already failed returns nil and changes nothing until the file changes.
// The content in use sets scim_tenants_last_reload_successful back to 1.
func (w *Watcher) Reload() (changed bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data, err := os.ReadFile(w.path)
	if err != nil {
		w.metrics.fail()
		return false, fmt.Errorf("read tenants file: %w", err)
	}
	sum := sha256.Sum256(data)
	if sum == w.sum {
		// The file in use, perhaps put back after a rejected or unreadable
		// one: the file on disk is the one in use again, and a bad file that
		// comes back later is a new failure.
		w.hasBad = false
		w.metrics.lastSuccess.Set(1)
		return false, nil
	}
	if w.hasBad && sum == w.badSum {
		return false, nil
	}
	t, err := Parse(data)
	if err != nil {
		w.badSum, w.hasBad = sum, true
		w.metrics.fail()
		return false, err
	}
	w.table.Store(t)
	w.sum, w.hasBad = sum, false
	w.metrics.lastSuccess.Set(1)
	w.metrics.tenants.Set(float64(len(t.names)))
	return true, nil
}

type metrics struct {
	reloadErrors prometheus.Counter
	lastSuccess  prometheus.Gauge
	tenants      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		reloadErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "scim_tenants_reload_errors_total",
			Help: "Reloads of the tenants file that failed to read or parse; the previous tenants were kept.",
		}),
		lastSuccess: f.NewGauge(prometheus.GaugeOpts{
			Name: "scim_tenants_last_reload_successful",
			Help: "1 if the tenants file on disk is the one in use, 0 after a rejected reload.",
		}),
		tenants: f.NewGauge(prometheus.GaugeOpts{
			Name: "scim_tenants",
			Help: "Tenants in the table in use.",
		}),
	}
}

func (m *metrics) fail() {
	m.reloadErrors.Inc()
	m.lastSuccess.Set(0)
}
