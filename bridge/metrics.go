package bridge

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	events        *prometheus.CounterVec
	appendSeconds prometheus.Histogram
	appendErrors  prometheus.Counter
	batchSize     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := promauto.With(reg)
	return &metrics{
		events: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_bridge_events_appended_total",
			Help: "Domain events appended to the log, by event type.",
		}, []string{"type"}),
		appendSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "scim_bridge_append_duration_seconds",
			Help:    "Time from append to the log's durable acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		appendErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "scim_bridge_append_errors_total",
			Help: "Appends the log did not acknowledge (the client got 503).",
		}),
		batchSize: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "scim_bridge_batch_writes",
			Help:    "Writes that shared one append (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
	}
}
