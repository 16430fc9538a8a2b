// Command scim-bridge is a SCIM 2.0 service provider that turns every accepted
// write into a domain event on a log (Kafka, or an embedded log) and answers
// reads from a local Badger projection of that log.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "scim-bridge: not wired yet")
	os.Exit(1)
}
