//go:build !unix

package main

import "time"

// cpuTime is unknown on this system; the report then leaves it out.
func cpuTime() time.Duration { return 0 }
