package kafka

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/scim-bridge/scim-bridge/events"
)

type metrics struct {
	appends         *prometheus.CounterVec
	appendedEvents  prometheus.Counter
	appendDuration  prometheus.Histogram
	batchAppends    prometheus.Histogram
	produceRequests *prometheus.CounterVec
}

// newMetrics registers the log's metrics with reg; a nil reg keeps them
// unregistered (promauto.With(nil) does not register).
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		appends: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_log_appends_total",
			Help: "Appends to the Kafka event log, by result (ok, unavailable, error).",
		}, []string{"result"}),
		appendedEvents: f.NewCounter(prometheus.CounterOpts{
			Name: "scim_log_appended_events_total",
			Help: "Events acknowledged by the Kafka event log.",
		}),
		appendDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "scim_log_append_duration_seconds",
			Help:    "Time from Append to its acknowledgement (acks=all) or failure.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5 ms .. 16 s
		}),
		batchAppends: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "scim_log_produce_batch_appends",
			Help:    "Appends sharing one produce request (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 .. 512
		}),
		produceRequests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_log_produce_requests_total",
			Help: "Produce requests sent to Kafka, by result (ok, retry, error).",
		}, []string{"result"}),
	}
}

func (m *metrics) observeAppend(n int, d time.Duration, err error) {
	m.appendDuration.Observe(d.Seconds())
	switch {
	case err == nil:
		m.appends.WithLabelValues("ok").Inc()
		m.appendedEvents.Add(float64(n))
	case errors.Is(err, events.ErrUnavailable):
		m.appends.WithLabelValues("unavailable").Inc()
	default:
		m.appends.WithLabelValues("error").Inc()
	}
}
