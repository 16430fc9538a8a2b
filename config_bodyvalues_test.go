package main

import (
	"io"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/scimhttp"
)

func TestConfig_MaxBodyValues(t *testing.T) {
	parse := func(args []string, env map[string]string) (config, error) {
		env["SCIM_TOKEN"] = "x"
		return parseConfig("serve", args, func(k string) string { return env[k] }, io.Discard)
	}
	if c, err := parse(nil, map[string]string{}); err != nil || c.MaxBodyValues != scimhttp.DefaultMaxBodyValues {
		t.Errorf("default: %d, %v; want %d", c.MaxBodyValues, err, scimhttp.DefaultMaxBodyValues)
	}
	if c, err := parse([]string{"--max-body-values", "7"}, map[string]string{"SCIM_MAX_BODY_VALUES": "3"}); err != nil || c.MaxBodyValues != 7 {
		t.Errorf("--max-body-values 7 over SCIM_MAX_BODY_VALUES=3: %d, %v; want 7", c.MaxBodyValues, err)
	}
	if _, err := parse(nil, map[string]string{"SCIM_MAX_BODY_VALUES": "0"}); err == nil || !strings.Contains(err.Error(), "SCIM_MAX_BODY_VALUES") {
		t.Errorf("SCIM_MAX_BODY_VALUES=0: %v, want an error naming it", err)
	}
}
