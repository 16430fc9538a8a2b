package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the tool when runMain starts
// the baseline's bare server as a child process of itself.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
