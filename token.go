package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

// tokenCmd is `scim-bridge token new --tenant NAME`.
func tokenCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprintln(stderr, "Usage: scim-bridge token new --tenant NAME")
		return errors.New("unknown token subcommand")
	}
	fs := flag.NewFlagSet("scim-bridge token new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("tenant", "", "the tenant the token is for (lower-case letters, digits and '-')")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := tenants.CheckName(*name); err != nil {
		return fmt.Errorf("--tenant %q: %w", *name, err)
	}
	tok, hash, err := tenants.NewToken()
	if err != nil {
		return err
	}
	entry, err := json.Marshal(tenants.Tenant{Name: *name, Tokens: []string{hash}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token (give it to the identity provider; it is not stored and is shown only now):\n  %s\n", tok)
	fmt.Fprintf(stdout, "tenants file entry (add it to \"tenants\" in SCIM_TENANTS_FILE, or add the hash to the tenant's \"tokens\"):\n  %s\n", entry)
	return nil
}
