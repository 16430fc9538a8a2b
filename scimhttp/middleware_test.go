package scimhttp

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/scim-bridge/scim-bridge/schemas"
)

func TestRequestID(t *testing.T) {
	tests := []struct {
		name   string
		header string
		keep   bool
	}{
		{"Sane", "3f2a-request.1", true},
		{"Empty", "", false},
		{"Space", "a b", false},
		{"Control", "a\x01b", false},
		{"NonASCII", "é", false},
		{"TooLong", strings.Repeat("a", 129), false},
		{"MaxLength", strings.Repeat("a", 128), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			req := httptest.NewRequest(http.MethodGet, "/scim/v2/Users", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			if tt.header != "" {
				req.Header.Set("X-Request-Id", tt.header)
			}
			rec := httptest.NewRecorder()
			ts.srv.Handler().ServeHTTP(rec, req)
			got := rec.Header().Get("X-Request-Id")
			if tt.keep && got != tt.header {
				t.Errorf("X-Request-Id = %q, want %q echoed", got, tt.header)
			}
			if !tt.keep && (got == tt.header || len(got) != 32) {
				t.Errorf("X-Request-Id = %q, want a fresh 32-hex-digit id", got)
			}
		})
	}
}

func TestServer_Metrics(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})
	ts.do(http.MethodGet, "/scim/v2/Users/u1", "")
	ts.do(http.MethodGet, "/scim/v2/Users/u2", "")
	ts.do(http.MethodGet, "/scim/v2/Nope", "")
	ts.do("BREW", "/scim/v2/Users", "")

	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "scim_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[labels(m)] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"method=GET,route=/scim/v2/Users/{id},status=200,tenant=default": 1,
		"method=GET,route=/scim/v2/Users/{id},status=404,tenant=default": 1,
		"method=GET,route=unmatched,status=404,tenant=default":           1,
		"method=other,route=unmatched,status=405,tenant=default":         1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("scim_http_requests_total{%s} = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("scim_http_requests_total has %d series, want %d: %v", len(got), len(want), got)
	}
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

func TestServer_LogLine(t *testing.T) {
	ts := newTestServer(t, Options{})
	var buf bytes.Buffer
	ts.srv.log = slog.New(slog.NewTextHandler(&buf, nil))
	ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "secret-name@example.com"})
	ts.do(http.MethodGet, "/scim/v2/Users/u1", "", "X-Request-Id", "rid-1")
	line := buf.String()
	for _, want := range []string{"msg=request", "request_id=rid-1", "tenant=default", "method=GET", "route=/scim/v2/Users/{id}", "status=200", "duration="} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "secret-name") {
		t.Errorf("log line %q contains an attribute value", line)
	}
	if n := strings.Count(line, "\n"); n != 1 {
		t.Errorf("logged %d lines, want 1: %q", n, line)
	}
}

func TestServer_BaseURL(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		host    string
		headers []string
		want    string
	}{
		{"Configured", Options{BaseURL: "https://idp.example.org/scim/v2/"}, "internal:8080", nil,
			"https://idp.example.org/scim/v2/Users/u1"},
		{"FromHost", Options{}, "scim.local:8080", nil, "http://scim.local:8080/scim/v2/Users/u1"},
		{"ForwardedIgnored", Options{}, "scim.local:8080",
			[]string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"},
			"http://scim.local:8080/scim/v2/Users/u1"},
		{"ForwardedTrusted", Options{TrustForwardedHeaders: true}, "scim.local:8080",
			[]string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "Public.Example.com"},
			"https://public.example.com/scim/v2/Users/u1"},
		{"ForwardedHostInvalid", Options{TrustForwardedHeaders: true}, "scim.local:8080",
			[]string{"X-Forwarded-Host", "evil.example/x?"},
			"http://scim.local:8080/scim/v2/Users/u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, tt.opts)
			if tt.opts.BaseURL == "" {
				ts.srv.opts.BaseURL = "" // newTestServer sets one
			}
			ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})
			req := httptest.NewRequest(http.MethodGet, "/scim/v2/Users/u1", nil)
			req.Host = tt.host
			req.Header.Set("Authorization", "Bearer "+testToken)
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			rec := httptest.NewRecorder()
			ts.srv.Handler().ServeHTTP(rec, req)
			meta, _ := decode(t, rec)["meta"].(map[string]any)
			if got := meta["location"]; got != tt.want {
				t.Errorf("meta.location = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNew_Errors(t *testing.T) {
	reg, err := schemas.NewRegistry()
	if err != nil {
		t.Fatalf("NewRegistry() = %v", err)
	}
	store := &faultStore{}
	auth := StaticToken("x", "default")
	tests := []struct {
		name string
		opts Options
	}{
		{"NegativeBody", Options{MaxBodyBytes: -1}},
		{"DefaultAboveMax", Options{DefaultPageSize: 20, MaxPageSize: 10}},
		{"BadBaseURL", Options{BaseURL: "scim.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(reg, store, store, auth, tt.opts); err == nil {
				t.Errorf("New(%+v) = nil error, want one", tt.opts)
			}
		})
	}
	if _, err := New(nil, store, store, auth, Options{}); err == nil {
		t.Errorf("New(nil registry) = nil error, want one")
	}
}
