package scimhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// ContentType is the media type of every response (RFC 7644 §3.1).
const ContentType = "application/scim+json; charset=utf-8"

// writeJSON answers status with v as SCIM JSON. v is marshalled before
// anything is written, so a marshalling failure can still be a 500.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode response", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"schemas":["` + schemas.URNError + `"],"status":"500","detail":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client may be gone; nothing to do about it
}

// readBody checks the request's content type and reads its body, at most
// MaxBodyBytes of it, and checks it (checkBody), which covers every body:
// resources, PATCH and SearchRequest. Decoding against the schema is the
// bridge's job.
//
// The body's bytes are reserved from the budget of bodies in flight
// (Options.MaxInFlightBytes) before they are read, all of a declared
// Content-Length at once, and released when the request ends: a body that
// does not fit is refused with 503 without reading it. Reading stops at
// the request's deadline, so a client sending slowly cannot hold its
// reservation longer than that. checkBody then reserves more for a body
// dense in values.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := s.readRawBody(w, r)
	if err != nil {
		return nil, err
	}
	if err := s.checkBody(r, body, "the request body"); err != nil {
		return nil, err
	}
	return body, nil
}

// bytesPerValue is what each JSON value and object key of a body counts
// for in the budget of bodies in flight, at least. Decoding costs memory
// by the values more than by the bytes: an empty object, "{}", becomes a
// map of about a hundred bytes. A real IdP body holds about one value or
// key per 10 bytes and counts for up to 1.6 times its size; a body of tiny
// values (at most Options.MaxBodyValues of them) counts for up to 8 times
// its size, so that what decoding takes stays within about 13 times what
// the budget counts (docs/decisions.md, "Memory of decoding a request body").
const bytesPerValue = 16

// checkBody checks body, as read by readRawBody: one JSON text (what
// names it in errors), no key given twice in one object in any case (SCIM
// attribute names are case-insensitive, RFC 7643 §2.1; "the last one wins"
// would drop what the client sent), at most Options.MaxBodyValues values
// and keys (413 before any is decoded). It then reserves, for the request,
// what the body counts for beyond the bytes already reserved
// (bytesPerValue), at most a tenant's share of the budget so that a body
// always fits once the tenant's other requests end; 503 if it does not fit
// now.
func (s *Server) checkBody(r *http.Request, body []byte, what string) error {
	n, err := schemas.CheckRequestJSON(body, what, s.opts.MaxBodyValues)
	if err != nil {
		return err
	}
	st := stateFrom(r.Context())
	if st == nil {
		return nil // not under the middleware: nothing to account to
	}
	if more := bodyReserve(len(body), n, s.bodies.perTenant) - st.bodyBytes; more > 0 {
		return s.reserveBody(st, more)
	}
	return nil
}

// bodyReserve is what a body of size bytes holding values JSON values and
// keys counts for in the budget of bodies in flight: its size, or
// bytesPerValue per value, at most perTenant, a tenant's share.
func bodyReserve(size, values int, perTenant int64) int64 {
	return max(int64(size), min(int64(values)*bytesPerValue, perTenant))
}

// readRawBody is readBody without the JSON check, for a handler that
// checks the body with checkBody itself.
func (s *Server) readRawBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		return nil, s.tooLarge()
	}
	if dl, ok := r.Context().Deadline(); ok {
		// Not every ResponseWriter can (httptest's cannot); then the
		// server's own read timeout still bounds the read.
		_ = http.NewResponseController(w).SetReadDeadline(dl)
	}
	body, err := s.readReserved(stateFrom(r.Context()), http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes), r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		var se *schemas.Error
		switch {
		case errors.As(err, &mbe):
			return nil, s.tooLarge()
		case errors.As(err, &se):
			return nil, err
		case errors.Is(err, os.ErrDeadlineExceeded), pastDeadline(r.Context()):
			// The read deadline, which net/http may also report by
			// cancelling the request's context.
			return nil, fmt.Errorf("read body: %w", context.DeadlineExceeded)
		case r.Context().Err() != nil: // the client left
			return nil, fmt.Errorf("read body: %w", r.Context().Err())
		}
		return nil, &schemas.Error{Kind: schemas.KindInvalidSyntax, Detail: "the request body could not be read", Err: err}
	}
	if len(body) == 0 {
		return nil, schemas.Errorf(schemas.KindInvalidSyntax, "the request body is empty")
	}
	return body, nil
}

// pastDeadline reports whether ctx has a deadline and it has passed.
func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// bodyChunk is the first reservation, and read, of a body of unknown
// length; the buffer then doubles.
const bodyChunk = 64 << 10

// readReserved reads body into a buffer whose bytes it reserves first:
// length of them at once when it is known (>= 0), otherwise each growth of
// the buffer. Unlike io.ReadAll, it allocates a known length once, without
// the copies of a growing buffer.
func (s *Server) readReserved(st *requestState, body io.Reader, length int64) ([]byte, error) {
	if length >= 0 {
		if err := s.reserveBody(st, length); err != nil {
			return nil, err
		}
		buf := make([]byte, length)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	var buf []byte
	for {
		if len(buf) == cap(buf) {
			// Double, from bodyChunk, up to one byte past the limit (for
			// MaxBytesReader to tell).
			grow := min(max(int64(len(buf)), bodyChunk), max(1, s.opts.MaxBodyBytes+1-int64(len(buf))))
			if err := s.reserveBody(st, grow); err != nil {
				return nil, err
			}
			next := make([]byte, len(buf), int64(len(buf))+grow)
			copy(next, buf)
			buf = next
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (s *Server) tooLarge() error {
	return schemas.Errorf(schemas.KindTooLarge, "the request body exceeds %d bytes", s.opts.MaxBodyBytes)
}

// checkContentType accepts application/scim+json and application/json with
// any parameters (charset), case-insensitively, and a missing Content-Type:
// IdPs differ (docs/idp-quirks.md §4) and we would rather read a body than refuse it.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return httpErrorf(http.StatusUnsupportedMediaType, "the Content-Type is malformed; use application/scim+json")
	}
	switch mt { // ParseMediaType lower-cases it
	case "application/scim+json", "application/json":
		return nil
	}
	return httpErrorf(http.StatusUnsupportedMediaType, "Content-Type %s is not supported; use application/scim+json", mt)
}
