package scimhttp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// statusOf is the one table from error kind to HTTP status (RFC 7644 §3.12).
// A kind missing here is answered as 500 and logged, so a kind appended to
// schemas shows up in tests (TestStatusOf_EveryKind) rather than in traffic.
var statusOf = map[schemas.Kind]int{
	schemas.KindOther:            http.StatusInternalServerError,
	schemas.KindInvalidValue:     http.StatusBadRequest,
	schemas.KindInvalidSyntax:    http.StatusBadRequest,
	schemas.KindInvalidFilter:    http.StatusBadRequest,
	schemas.KindInvalidPath:      http.StatusBadRequest,
	schemas.KindNoTarget:         http.StatusBadRequest,
	schemas.KindMutability:       http.StatusBadRequest,
	schemas.KindUniqueness:       http.StatusConflict,
	schemas.KindTooMany:          http.StatusBadRequest,
	schemas.KindNotFound:         http.StatusNotFound,
	schemas.KindPrecondition:     http.StatusPreconditionFailed,
	schemas.KindTooLarge:         http.StatusRequestEntityTooLarge,
	schemas.KindUnavailable:      http.StatusServiceUnavailable,
	schemas.KindUnauthorized:     http.StatusUnauthorized,
	schemas.KindInvalidVersion:   http.StatusBadRequest,
	schemas.KindInvalidCursor:    http.StatusBadRequest,
	schemas.KindConflict:         http.StatusConflict,
	schemas.KindRateLimited:      http.StatusTooManyRequests,
	schemas.KindNotImplemented:   http.StatusNotImplemented,
	schemas.KindMethodNotAllowed: http.StatusMethodNotAllowed,
	schemas.KindExpiredCursor:    http.StatusBadRequest,
}

// httpError is an error only HTTP has a status for (415, 403): no
// schemas.Kind describes it and no package but this one produces it.
type httpError struct {
	status int
	detail string
}

func (e *httpError) Error() string { return e.detail }

func httpErrorf(status int, format string, args ...any) *httpError {
	return &httpError{status: status, detail: fmt.Sprintf(format, args...)}
}

// errorBody is the SCIM error response (RFC 7644 §3.12); status is a string.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// writeError answers err as a SCIM error. Client errors show the error's
// detail; server errors are logged here, once, with the request id, and the
// client sees only "internal error" (or the unavailable/rate-limited detail).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, scimType, detail := s.classify(err)
	s.logError(r, status, err)
	s.writeErrorBody(w, status, scimType, detail)
}

// logError logs, once, an error answered with status: a request's, or one
// bulk operation's (which has no response of its own to write).
func (s *Server) logError(r *http.Request, status int, err error) {
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		s.log.Debug("request canceled", "request_id", RequestIDFromContext(r.Context()))
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		s.log.Warn("request refused", "request_id", RequestIDFromContext(r.Context()), "status", status, "err", err)
	case status >= 500:
		s.log.Error("request failed", "request_id", RequestIDFromContext(r.Context()), "status", status, "err", err)
	}
}

// writeErrorBody writes a SCIM error body with the headers its status
// needs, and logs nothing.
func (s *Server) writeErrorBody(w http.ResponseWriter, status int, scimType, detail string) {
	h := w.Header()
	switch status {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(s.opts.RetryAfter.Seconds()))))
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="scim"`)
	}
	s.writeJSON(w, status, errorBody{
		Schemas:  []string{schemas.URNError},
		Status:   strconv.Itoa(status),
		ScimType: scimType,
		Detail:   detail,
	})
}

// classify maps an error to its status, scimType and client-safe detail.
func (s *Server) classify(err error) (status int, scimType, detail string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, "", he.detail
	}
	var se *schemas.Error
	if !errors.As(err, &se) {
		if errors.Is(err, context.DeadlineExceeded) {
			return http.StatusServiceUnavailable, "", "the request timed out; retry later"
		}
		return http.StatusInternalServerError, "", "internal error"
	}
	status, ok := statusOf[se.Kind]
	if !ok || status == http.StatusInternalServerError {
		return http.StatusInternalServerError, "", "internal error"
	}
	detail = se.Detail
	if detail == "" {
		detail = http.StatusText(status)
	}
	return status, se.ScimType(), detail
}
