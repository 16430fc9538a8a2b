package scimhttp

import (
	"context"

	"github.com/scim-bridge/scim-bridge/schemas"
)

type contextKey int

const (
	tenantKey contextKey = iota
	requestIDKey
	stateKey
)

// NewContextWithTenant returns a copy of ctx carrying the authenticated
// tenant.
func NewContextWithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey, tenant)
}

// TenantFromContext returns the tenant put in ctx by NewContextWithTenant.
func TenantFromContext(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(tenantKey).(string)
	return t, ok
}

// NewContextWithRequestID returns a copy of ctx carrying the request id.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFromContext returns the request id put in ctx by
// NewContextWithRequestID, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// requestState is what the middleware learns from inner handlers for its
// log line and metrics.
type requestState struct {
	route     string // mux path template, "unmatched" until a route is found
	tenant    string
	strict    bool  // the tenant rejects unknown input
	bodyBytes int64 // reserved from Server.bodies until the request ends

	ignored []schemas.Ignored // what the write ignored, for the audit line
	bulk    []bulkAudit       // what a bulk request's operations did, for the audit line
}

func withState(ctx context.Context, st *requestState) context.Context {
	return context.WithValue(ctx, stateKey, st)
}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey).(*requestState)
	return st
}
