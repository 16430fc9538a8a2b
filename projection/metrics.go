package projection

import (
	"strconv"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Reasons an event is skipped (the reason label of
// scim_projection_skipped_events_total and the skipped record).
const (
	reasonReplay          = "replay"           // offset below the applied position (not recorded)
	reasonDuplicate       = "duplicate"        // ce_id or version already applied
	reasonVersionMismatch = "version_mismatch" // prevVersion differs from the stored version
	reasonNotFound        = "not_found"        // change to a resource the projection does not hold
	reasonInvalid         = "invalid"          // malformed event (missing tenant, id, resource...)
	reasonUnknownType     = "unknown_type"     // an event type this version does not know
	reasonKeyTooLarge     = "key_too_large"    // an id or an indexed value makes a key over Badger's limit
	reasonValueTooLarge   = "value_too_large"  // the stored resource or a membership entry is over the value limit
	reasonTooManyValues   = "too_many_values"  // more index entries for one resource than maxIndexKeys
	reasonTxnTooBig       = "txn_too_big"      // what the event writes does not fit one transaction
	reasonBadState        = "bad_state"        // the stored state it changes does not decode
	reasonPanic           = "panic"            // applying it panicked (a bug; logged with the stack)
	reasonVoid            = "void"             // fenced off: older than the claim in force (fence.go)
)

type metrics struct {
	appliedOffset *prometheus.GaugeVec
	lag           *prometheus.GaugeVec
	lastApplied   *prometheus.GaugeVec
	applySeconds  prometheus.Histogram
	applied       *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	applyErrors   prometheus.Counter
}

// newMetrics registers the projection's metrics with reg; a nil reg gets a
// fresh registry nobody scrapes. db backs the Badger size gauges.
func newMetrics(reg prometheus.Registerer, db *badger.DB, caughtUp func() bool) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := promauto.With(reg)
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "scim_projection_badger_lsm_bytes",
		Help: "Size of the Badger LSM tree of the projection.",
	}, func() float64 { lsm, _ := db.Size(); return float64(lsm) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "scim_projection_badger_vlog_bytes",
		Help: "Size of the Badger value log of the projection.",
	}, func() float64 { _, vlog := db.Size(); return float64(vlog) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "scim_projection_caught_up",
		Help: "1 once the projection has caught up with the log (readiness; stays 0 during a rebuild or the first replay).",
	}, func() float64 {
		if caughtUp() {
			return 1
		}
		return 0
	})
	return &metrics{
		appliedOffset: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scim_projection_applied_offset",
			Help: "Next log offset the projection will apply, per partition.",
		}, []string{"partition"}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scim_projection_lag_events",
			Help: "Records in the log not yet applied, per partition, as of the last poll.",
		}, []string{"partition"}),
		// The lag in seconds is time() minus this, while the lag in events
		// is above zero (see the README's metrics).
		lastApplied: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scim_projection_last_applied_event_timestamp_seconds",
			Help: "Time (ce_time) of the last event applied, per partition, as a Unix timestamp.",
		}, []string{"partition"}),
		applySeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "scim_projection_apply_duration_seconds",
			Help:    "Time to apply one record, including its Badger commit.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 4, 10),
		}),
		applied: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_projection_applied_events_total",
			Help: "Events applied to the projection, by event type.",
		}, []string{"type"}),
		skipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_projection_skipped_events_total",
			Help: "Records not applied, by reason.",
		}, []string{"reason"}),
		applyErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "scim_projection_apply_errors_total",
			Help: "Failed attempts to apply records (Badger errors); each is retried with backoff.",
		}),
	}
}

func partitionLabel(p int) string { return strconv.Itoa(p) }
