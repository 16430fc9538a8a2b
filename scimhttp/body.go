package scimhttp

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

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
// MaxBodyBytes of it, and checks that it is JSON at all, with no key given
// twice in one object in any case (SCIM attribute names are
// case-insensitive, RFC 7643 §2.1; "the last one wins" would drop what the
// client sent), which covers every body: resources, PATCH and SearchRequest.
// Decoding against the schema is the bridge's job.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := s.readRawBody(w, r)
	if err != nil {
		return nil, err
	}
	if err := schemas.CheckRequestJSON(body, "the request body"); err != nil {
		return nil, err // not JSON, or a key given twice in one object
	}
	return body, nil
}

// readRawBody is readBody without the JSON check, for a handler that
// parses the body with schemas.ParseRequestJSON itself.
func (s *Server) readRawBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		return nil, s.tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, s.tooLarge()
		}
		return nil, &schemas.Error{Kind: schemas.KindInvalidSyntax, Detail: "the request body could not be read", Err: err}
	}
	if len(body) == 0 {
		return nil, schemas.Errorf(schemas.KindInvalidSyntax, "the request body is empty")
	}
	return body, nil
}

func (s *Server) tooLarge() error {
	return schemas.Errorf(schemas.KindTooLarge, "the request body exceeds %d bytes", s.opts.MaxBodyBytes)
}

// checkContentType accepts application/scim+json and application/json with
// any parameters (charset), case-insensitively, and a missing Content-Type:
// IdPs differ (IDP-QUIRKS §4) and we would rather read a body than refuse it.
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
