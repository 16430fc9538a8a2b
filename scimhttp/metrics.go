package scimhttp

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	ignored  *prometheus.CounterVec
	bulkOps  *prometheus.CounterVec
}

// newMetrics builds the HTTP metrics on reg (nil: not registered). Labels
// are bounded: method (unknown ones are "other"), route (the mux path
// template, or "unmatched"), status and tenant (configured tenants only;
// "" before authentication), resource_type (User, Group) and kind (the
// closed set of schemas.IgnoredKind). A bulk operation's method is one of
// the four a bulk request allows, or "other"; its status is one this
// package answers.
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_http_requests_total",
			Help: "SCIM HTTP requests by method, route template, status and tenant.",
		}, []string{"method", "route", "status", "tenant"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scim_http_request_duration_seconds",
			Help:    "SCIM HTTP request duration by method, route template, status and tenant.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status", "tenant"}),
		ignored: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_ignored_input_total",
			Help: "Names that successful writes ignored, by tenant, resource type and kind: attribute (unknown attribute), schema (attributes under an unknown schema URN), member (a member id naming nothing). The audit log names them.",
		}, []string{"tenant", "resource_type", "kind"}),
		bulkOps: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_http_bulk_operations_total",
			Help: "Operations of bulk requests that ran, by method, status and tenant (operations left out after failOnErrors are not counted).",
		}, []string{"method", "status", "tenant"}),
	}
}
