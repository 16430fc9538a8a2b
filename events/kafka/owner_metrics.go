package kafka

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type ownerMetrics struct {
	owned       prometheus.Gauge
	epoch       *prometheus.GaugeVec
	claims      *prometheus.CounterVec
	generations prometheus.Counter
}

// newOwnerMetrics registers an Owner's metrics with reg; a nil reg keeps
// them unregistered.
func newOwnerMetrics(reg prometheus.Registerer) *ownerMetrics {
	f := promauto.With(reg)
	m := &ownerMetrics{
		owned: f.NewGauge(prometheus.GaugeOpts{
			Name: "scim_ownership_partitions_owned",
			Help: "Partitions this replica writes for now (its claim read back in force).",
		}),
		epoch: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scim_ownership_epoch",
			Help: "Epoch of this replica's claim in force, per partition it writes for; 0 for the others.",
		}, []string{"partition"}),
		claims: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_ownership_claims_total",
			Help: "Claims this replica appended, by outcome: in_force, void (a higher claim came first), error (not appended).",
		}, []string{"result"}),
		generations: f.NewCounter(prometheus.CounterOpts{
			Name: "scim_ownership_generations_total",
			Help: "Generations of the writers' group this replica took part in (each rebalance starts one).",
		}),
	}
	for _, r := range []string{"in_force", "void", "error"} {
		m.claims.WithLabelValues(r)
	}
	return m
}

func partitionLabel(p int) string { return strconv.Itoa(p) }
