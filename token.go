package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

const tokenUsage = `Usage: scim-bridge token new --tenant NAME

Prints a new random bearer token for the tenant NAME and the entry that puts its SHA-256
hash in SCIM_TENANTS_FILE. The token itself is stored nowhere and shown only this once:
give it to the identity provider.

  --tenant NAME
      the tenant the token is for: lower-case letters, digits and '-', at most 63
`

// tokenCmd is `scim-bridge token new --tenant NAME`.
func tokenCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return errors.New("token: give a subcommand: new")
	}
	switch args[0] {
	case "new":
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stdout, tokenUsage)
		return flag.ErrHelp
	default:
		fmt.Fprint(stderr, tokenUsage)
		return fmt.Errorf("token: unknown subcommand %q (want new)", args[0])
	}
	fs := flag.NewFlagSet("scim-bridge token new", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("tenant", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, tokenUsage)
			return err
		}
		fmt.Fprint(stderr, tokenUsage)
		return fmt.Errorf("token new: %w", err)
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, tokenUsage)
		return fmt.Errorf("token new: unexpected arguments: %s", strings.Join(fs.Args(), " "))
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
