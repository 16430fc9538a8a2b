package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
)

// runCLI runs the program with env and returns its error, stdout and stderr.
func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr, nil)
	return stdout.String(), stderr.String(), err
}

func TestCLI_Token(t *testing.T) {
	t.Run("NoSubcommand", func(t *testing.T) {
		_, stderr, err := runCLI(t, nil, "token")
		if err == nil || !strings.Contains(err.Error(), "give a subcommand: new") || !strings.Contains(stderr, "token new --tenant NAME") {
			t.Errorf("token = %v, stderr %q; want the usage and an error naming the subcommand", err, stderr)
		}
	})
	for _, args := range [][]string{{"token", "--help"}, {"token", "help"}, {"token", "new", "--help"}, {"token", "new", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, _, err := runCLI(t, nil, args...)
			if !errors.Is(err, flag.ErrHelp) {
				t.Errorf("%v = %v, want flag.ErrHelp (exit 0)", args, err)
			}
			if !strings.Contains(stdout, "--tenant NAME") || !strings.Contains(stdout, "shown only this once") {
				t.Errorf("%v printed %q, want the token usage in the style of serve --help", args, stdout)
			}
		})
	}
	t.Run("Unknown", func(t *testing.T) {
		_, _, err := runCLI(t, nil, "token", "rotate")
		if err == nil || !strings.Contains(err.Error(), `unknown subcommand "rotate"`) {
			t.Errorf("token rotate = %v, want it named as unknown", err)
		}
	})
	t.Run("New", func(t *testing.T) {
		stdout, _, err := runCLI(t, nil, "token", "new", "--tenant", "acme")
		if err != nil || !strings.Contains(stdout, `"name":"acme"`) || !strings.Contains(stdout, "sha256:") {
			t.Errorf("token new = %v, %q", err, stdout)
		}
	})
}

func TestCLI_RebuildHelp(t *testing.T) {
	_, stderr, err := runCLI(t, nil, "rebuild", "--help")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("rebuild --help = %v", err)
	}
	if !strings.Contains(stderr, "replays the whole event log") {
		t.Errorf("rebuild --help does not say what rebuild does:\n%s", stderr)
	}
	for _, want := range []string{"[SCIM_DATA_DIR]", "[KAFKA_BROKERS]", "[KAFKA_SASL_PASSWORD]"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("rebuild --help lacks %s", want)
		}
	}
	for _, unused := range []string{"[SCIM_LISTEN]", "[SCIM_TOKEN]", "[SCIM_RATE_LIMIT]", "[KAFKA_APPEND_TIMEOUT]"} {
		if strings.Contains(stderr, unused) {
			t.Errorf("rebuild --help lists %s, which rebuild does not use", unused)
		}
	}
	// rebuild still accepts serve's flags: the same configuration runs both.
	if _, err := parseConfig("rebuild", []string{"--listen", ":1"}, func(string) string { return "" }, io.Discard); err != nil {
		t.Errorf("rebuild --listen = %v, want it accepted", err)
	}
}

func TestCLI_SecretsWarnAboutPS(t *testing.T) {
	_, stderr, _ := runCLI(t, nil, "serve", "--help")
	for _, flagName := range []string{"--token  [SCIM_TOKEN]", "--kafka-sasl-password  [KAFKA_SASL_PASSWORD]"} {
		i := strings.Index(stderr, flagName)
		if i < 0 {
			t.Fatalf("serve --help lacks %s", flagName)
		}
		line := stderr[i+len(flagName):]
		if j := strings.Index(line, "\n  --"); j >= 0 {
			line = line[:j]
		}
		if !strings.Contains(line, "ps") {
			t.Errorf("%s's help does not warn that a flag shows in ps: %q", flagName, line)
		}
	}
}

func TestConfig_KafkaSettingsNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KAFKA_BROKERS": "broker-without-port"}, "KAFKA_BROKERS"},
		{map[string]string{"KAFKA_BROKERS": "b:99999"}, "KAFKA_BROKERS"},
		{map[string]string{"KAFKA_BROKERS": "b:9092", "KAFKA_SASL_MECHANISM": "GSSAPI", "KAFKA_SASL_USERNAME": "u"}, "KAFKA_SASL_MECHANISM"},
		{map[string]string{"KAFKA_BROKERS": "b:9092", "KAFKA_SASL_MECHANISM": "PLAIN"}, "KAFKA_SASL_USERNAME"},
		{map[string]string{"KAFKA_BROKERS": "b:9092", "KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SASL_MECHANISM"},
		{map[string]string{"KAFKA_BROKERS": "b:9092", "KAFKA_TLS_CERT_FILE": "c.pem"}, "KAFKA_TLS_KEY_FILE"},
	} {
		env := map[string]string{"SCIM_TOKEN": "x"}
		for k, v := range tc.env {
			env[k] = v
		}
		_, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %v = %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
	ok := map[string]string{"SCIM_TOKEN": "x", "KAFKA_BROKERS": "a:9092, [::1]:9093", "KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_USERNAME": "u"}
	if _, err := parseConfig("serve", nil, func(k string) string { return ok[k] }, io.Discard); err != nil {
		t.Errorf("valid Kafka settings refused: %v", err)
	}
}

func TestRun_DataDirErrorsNameTheVariable(t *testing.T) {
	file := t.TempDir() + "/not-a-dir"
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, map[string]string{"SCIM_TOKEN": "x", "SCIM_DATA_DIR": file, "SCIM_LISTEN": "127.0.0.1:0", "SCIM_ADMIN_LISTEN": "off"}, "serve")
	if err == nil || !strings.Contains(err.Error(), "SCIM_DATA_DIR") {
		t.Errorf("serve with a file as data dir = %v, want an error naming SCIM_DATA_DIR", err)
	}
}

func TestAPIURL(t *testing.T) {
	for _, tc := range []struct {
		base, addr, want string
	}{
		{"", "[::]:8080", "http://localhost:8080/scim/v2"},
		{"", "0.0.0.0:8080", "http://localhost:8080/scim/v2"},
		{"", "127.0.0.1:8081", "http://127.0.0.1:8081/scim/v2"},
		{"https://scim.example.com/scim/v2", "[::]:8080", "https://scim.example.com/scim/v2"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := apiURL(config{BaseURL: tc.base}, addr); got != tc.want {
			t.Errorf("apiURL(%q, %s) = %q, want %q", tc.base, tc.addr, got, tc.want)
		}
	}
}

func TestVersion_Embedded(t *testing.T) {
	defer func(v string) { buildVersion = v }(buildVersion)
	buildVersion = "v1.2.3"
	stdout, _, err := runCLI(t, nil, "version")
	if err != nil || stdout != "scim-bridge v1.2.3\n" {
		t.Errorf("version = %v, %q; want the version set at build time", err, stdout)
	}
	buildVersion = ""
	if v := version(); !strings.HasPrefix(v, "devel") {
		t.Errorf("version() without a build version = %q, want devel…", v)
	}
}

// TestREADME_ConfigurationTable: every setting serve takes is a row of the
// README's Configuration table, with its variable and its flag.
func TestREADME_ConfigurationTable(t *testing.T) {
	_, help, _ := runCLI(t, nil, "serve", "--help")
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^  --([a-z0-9-]+)  \[([A-Z0-9_]+)\]$`)
	settings := row.FindAllStringSubmatch(help, -1)
	if len(settings) < 30 {
		t.Fatalf("serve --help lists %d settings; the pattern no longer matches its lines", len(settings))
	}
	for _, m := range settings {
		if want := "| `" + m[2] + "` | `--" + m[1] + "` |"; !strings.Contains(string(readme), want) {
			t.Errorf("README's Configuration table has no row starting %s", want)
		}
	}
}
