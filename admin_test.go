package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestRun_AdminListener checks where each endpoint is served: /metrics,
// which names every tenant, only on the admin listener, never on the SCIM
// port; Go's profiler only on SCIM_DEBUG_LISTEN; the probes on both.
func TestRun_AdminListener(t *testing.T) {
	debug := "http://" + freeAddr(t)
	s := startService(t, map[string]string{"SCIM_DEBUG_LISTEN": strings.TrimPrefix(debug, "http://")})
	s.must(201, s.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com"}`))

	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		name, base, path string
		want             int
	}{
		{"SCIM", s.base, "/metrics", 404},
		{"SCIM", s.base, "/debug/pprof/", 404},
		{"SCIM", s.base, "/healthz", 200},
		{"SCIM", s.base, "/readyz", 200},
		{"Admin", s.admin, "/metrics", 200},
		{"Admin", s.admin, "/debug/pprof/", 404},
		{"Admin", s.admin, "/healthz", 200},
		{"Admin", s.admin, "/readyz", 200},
		{"Debug", debug, "/debug/pprof/", 200},
		{"Debug", debug, "/metrics", 404},
	}
	for _, tc := range tests {
		if got, _ := get(tc.base + tc.path); got != tc.want {
			t.Errorf("%s listener: GET %s = %d, want %d", tc.name, tc.path, got, tc.want)
		}
	}
	if _, body := get(s.admin + "/metrics"); !strings.Contains(body, `tenant="default"`) {
		t.Errorf("admin /metrics has no per-tenant request counts:\n%s", body)
	}
}

func TestConfig_AdminListen(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"Default", nil, nil, ":9090"},
		{"Env", map[string]string{"SCIM_ADMIN_LISTEN": "127.0.0.1:9191"}, nil, "127.0.0.1:9191"},
		{"EnvOff", map[string]string{"SCIM_ADMIN_LISTEN": "off"}, nil, ""},
		{"EmptyFlag", nil, []string{"--admin-listen="}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"SCIM_TOKEN": "x"}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := parseConfig("serve", tc.args, func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.AdminListen != tc.want {
				t.Errorf("AdminListen = %q, want %q", c.AdminListen, tc.want)
			}
		})
	}
}
