package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// loadRegistry builds the schema registry: the core schemas plus the
// extension schemas of dir (SCIM_SCHEMAS_DIR), or none when dir is empty.
// Every error names SCIM_SCHEMAS_DIR, and the file and the problem when a
// file is at fault, so that serve and rebuild refuse to start with a message
// an operator can act on.
func loadRegistry(dir string) (*schemas.Registry, error) {
	exts, err := readSchemasDir(dir)
	if err != nil {
		return nil, fmt.Errorf("SCIM_SCHEMAS_DIR %s: %w", dir, err)
	}
	reg, err := schemas.NewRegistryWith(exts...)
	if err != nil && dir != "" {
		return nil, fmt.Errorf("SCIM_SCHEMAS_DIR %s: %w", dir, err)
	}
	return reg, err
}

// readSchemasDir reads the extension schema definitions of dir: every
// *.json file in it, in name order. Names starting with "." are skipped:
// a Kubernetes ConfigMap volume keeps its data in "..data" and
// "..<timestamp>" beside the files' links. Anything else (another file, a
// directory) is an error rather than silently left out, and so is a
// directory without a definition: the variable was set for a reason.
func readSchemasDir(dir string) ([]schemas.ExtensionDef, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var exts []schemas.ExtensionDef
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path) // follows the links of a ConfigMap volume
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if fi.IsDir() || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a file; the directory holds only extension schema files (*.json)", name)
		}
		if !strings.EqualFold(filepath.Ext(name), ".json") {
			return nil, fmt.Errorf("%s: not a .json file; the directory holds only extension schema files (*.json)", name)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		exts = append(exts, schemas.ExtensionDef{Name: name, JSON: b})
	}
	if len(exts) == 0 {
		return nil, errors.New("no extension schema file (*.json) in it; unset the variable to serve no custom extension schemas")
	}
	return exts, nil
}
