package scimhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

func TestStatusOf_EveryKind(t *testing.T) {
	for k := schemas.KindOther; k <= schemas.KindExpiredCursor; k++ {
		if _, ok := statusOf[k]; !ok {
			t.Errorf("statusOf has no entry for kind %d", k)
		}
	}
}

func TestServer_WriterErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		scimType   string
		retryAfter string
	}{
		{"Uniqueness", schemas.Errorf(schemas.KindUniqueness, "userName is taken"), http.StatusConflict, "uniqueness", ""},
		{"Conflict", schemas.Errorf(schemas.KindConflict, "changed concurrently"), http.StatusConflict, "", ""},
		{"InvalidValue", schemas.Errorf(schemas.KindInvalidValue, "bad"), http.StatusBadRequest, "invalidValue", ""},
		{"Mutability", schemas.Errorf(schemas.KindMutability, "id is readOnly"), http.StatusBadRequest, "mutability", ""},
		{"TooMany", schemas.Errorf(schemas.KindTooMany, "too many operations"), http.StatusBadRequest, "tooMany", ""},
		{"NotFound", schemas.Errorf(schemas.KindNotFound, "no such user"), http.StatusNotFound, "", ""},
		{"Precondition", schemas.Errorf(schemas.KindPrecondition, "version mismatch"), http.StatusPreconditionFailed, "", ""},
		{"TooLarge", schemas.Errorf(schemas.KindTooLarge, "too big"), http.StatusRequestEntityTooLarge, "", ""},
		{"Unavailable", fmt.Errorf("append: %w", schemas.Errorf(schemas.KindUnavailable, "the event log is unavailable")), http.StatusServiceUnavailable, "", "5"},
		{"RateLimited", schemas.Errorf(schemas.KindRateLimited, "slow down"), http.StatusTooManyRequests, "", "5"},
		{"NotImplemented", schemas.Errorf(schemas.KindNotImplemented, "no"), http.StatusNotImplemented, "", ""},
		{"Internal", errors.New("dial kafka-0.internal:9092: connection refused"), http.StatusInternalServerError, "", ""},
		{"InternalKind", &schemas.Error{Kind: schemas.KindOther, Detail: "badger: corrupt", Err: errors.New("x")}, http.StatusInternalServerError, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			ts.store.fail(func(string) error { return tt.err })
			rec := ts.do(http.MethodPost, "/scim/v2/Users", userJSON("a"))
			body := checkError(t, rec, tt.status, tt.scimType)
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if tt.status == http.StatusInternalServerError {
				if got := body["detail"]; got != "internal error" {
					t.Errorf("detail = %q, want %q (internals must not leak)", got, "internal error")
				}
			}
		})
	}
}

func TestServer_RetryAfterOption(t *testing.T) {
	ts := newTestServer(t, Options{RetryAfter: 1500 * 1e6}) // 1.5 s rounds up
	ts.store.fail(func(string) error { return schemas.Errorf(schemas.KindUnavailable, "down") })
	rec := ts.do(http.MethodDelete, "/scim/v2/Users/x", "")
	checkError(t, rec, http.StatusServiceUnavailable, "")
	if got, want := rec.Header().Get("Retry-After"), "2"; got != want {
		t.Errorf("Retry-After = %q, want %q", got, want)
	}
}

func TestServer_Panic(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.store.fail(func(string) error { panic("hostile input") })
	rec := ts.do(http.MethodGet, "/scim/v2/Users/x", "")
	body := checkError(t, rec, http.StatusInternalServerError, "")
	if got := body["detail"]; got != "internal error" {
		t.Errorf("detail = %q, want %q", got, "internal error")
	}
	// The server still serves.
	ts.store.fail(nil)
	if rec := ts.do(http.MethodGet, "/scim/v2/Users", ""); rec.Code != http.StatusOK {
		t.Errorf("GET after panic: status = %d, want 200", rec.Code)
	}
}

func TestServer_Routing(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		target    string
		status    int
		wantAllow string
	}{
		{"UnknownPath", http.MethodGet, "/scim/v2/Nope", http.StatusNotFound, ""},
		{"OutsidePrefix", http.MethodGet, "/Users", http.StatusNotFound, ""},
		{"UnknownID", http.MethodGet, "/scim/v2/Users/missing", http.StatusNotFound, ""},
		{"DoubleSlash", http.MethodGet, "/scim/v2//Users", http.StatusNotFound, ""},
		{"DeleteCollection", http.MethodDelete, "/scim/v2/Users", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"PostToID", http.MethodPost, "/scim/v2/Groups/abc", http.StatusMethodNotAllowed, "GET, HEAD, PUT, PATCH, DELETE"},
		{"PutDiscovery", http.MethodPut, "/scim/v2/ServiceProviderConfig", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"LowerCaseDiscoveryWrongMethod", http.MethodPost, "/scim/v2/schemas", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"BulkWrongMethod", http.MethodGet, "/scim/v2/Bulk", http.StatusMethodNotAllowed, "POST"},
		{"BulkSubPath", http.MethodPost, "/scim/v2/Bulk/1", http.StatusNotFound, ""},
		{"Me", http.MethodGet, "/scim/v2/Me", http.StatusNotImplemented, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			rec := ts.do(tt.method, tt.target, "")
			checkError(t, rec, tt.status, "")
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestServer_Bodies(t *testing.T) {
	tests := []struct {
		name        string
		contentType string // "-" sends none
		body        string
		status      int
		scimType    string
	}{
		{"SCIMJSON", "application/scim+json", userJSON("a"), http.StatusCreated, ""},
		{"SCIMJSONCharset", "application/scim+json; charset=utf-8", userJSON("a"), http.StatusCreated, ""},
		{"JSON", "application/json", userJSON("a"), http.StatusCreated, ""},
		{"UpperCase", "APPLICATION/SCIM+JSON; Charset=UTF-8", userJSON("a"), http.StatusCreated, ""},
		{"NoContentType", "-", userJSON("a"), http.StatusCreated, ""},
		{"TextPlain", "text/plain", `{"userName":"a"}`, http.StatusUnsupportedMediaType, ""},
		{"Form", "application/x-www-form-urlencoded", `userName=a`, http.StatusUnsupportedMediaType, ""},
		{"MalformedContentType", "application/", `{"userName":"a"}`, http.StatusUnsupportedMediaType, ""},
		{"MalformedJSON", "application/scim+json", `{"userName":`, http.StatusBadRequest, "invalidSyntax"},
		{"TooLarge", "application/scim+json", `{"userName":"` + strings.Repeat("a", 2048) + `"}`, http.StatusRequestEntityTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{MaxBodyBytes: 1024})
			ct := tt.contentType
			if ct == "-" {
				ct = ""
			}
			rec := ts.do(http.MethodPost, "/scim/v2/Users", tt.body, "Content-Type", ct)
			if tt.status == http.StatusCreated {
				if rec.Code != tt.status {
					t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
				}
				if got := rec.Header().Get("Content-Type"); got != ContentType {
					t.Errorf("Content-Type = %q, want %q", got, ContentType)
				}
				return
			}
			checkError(t, rec, tt.status, tt.scimType)
		})
	}
}

func TestServer_EmptyBody(t *testing.T) {
	ts := newTestServer(t, Options{})
	rec := ts.do(http.MethodPut, "/scim/v2/Users/x", "")
	checkError(t, rec, http.StatusBadRequest, "invalidSyntax")
}

func TestServer_MalformedQuery(t *testing.T) {
	ts := newTestServer(t, Options{})
	rec := ts.do(http.MethodGet, "/scim/v2/Users?filter=userName%zz", "")
	checkError(t, rec, http.StatusBadRequest, "invalidSyntax")
}
