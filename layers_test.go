package main

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// layers is the import direction of docs/architecture.md: a package may
// import packages of its own folder and of folders to its left, never to
// its right.
var layers = []string{"schemas", "events", "projection", "bridge", "scimhttp"}

// leaves are folders whose package imports nothing of the module, so that
// any layer can use it: the JSON library, and the helpers of every
// package's tests (outside the layers).
var leaves = []string{"schemas/scimjson", "internal/testutil"}

// TestImportDirection fails on any import in the module that points up the
// layers.
func TestImportDirection(t *testing.T) {
	bad, checked, err := upwardImports(".", modulePath(t, "."))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
	if checked == 0 {
		t.Fatal("no internal imports found: the check looked at nothing")
	}
}

// TestImportDirectionCatches runs the check on a module with one upward
// import, so a check that cannot fail does not pass unnoticed.
func TestImportDirectionCatches(t *testing.T) {
	root := t.TempDir()
	write := func(path, src string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(path)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, path), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n")
	write("schemas/a.go", "package schemas\nimport _ \"example.com/m/bridge\"\n")
	write("schemas/sub/b.go", "package sub\nimport _ \"example.com/m/schemas\"\n")
	write("bridge/c.go", "package bridge\nimport _ \"example.com/m/events\"\n")
	write("bridge/c_test.go", "package bridge\nimport _ \"example.com/m/scimhttp\"\n")
	bad, checked, err := upwardImports(root, modulePath(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if checked != 3 || len(bad) != 1 || !strings.Contains(bad[0], "schemas may not import bridge") {
		t.Fatalf("checked %d imports, found %q; want 3 checked and the one from schemas to bridge", checked, bad)
	}
}

// TestImportDirectionCatchesLeaf: a leaf package importing the module is
// reported even where the layers allow the import.
func TestImportDirectionCatchesLeaf(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "schemas", "scimjson"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "package scimjson\nimport _ \"example.com/m/schemas\"\n"
	if err := os.WriteFile(filepath.Join(root, "schemas", "scimjson", "a.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	bad, _, err := upwardImports(root, modulePath(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || !strings.Contains(bad[0], "schemas/scimjson is a leaf") {
		t.Fatalf("found %q; want the leaf's import of schemas", bad)
	}
}

// TestNoStoreAboveProjection: the write path and the HTTP layer speak of
// reads through projection/view and are handed the store by main, so
// neither links the store, Badger or kafka-go (docs/architecture.md,
// Layers). Imports alone do not show it: this looks at everything they
// depend on, transitively.
func TestNoStoreAboveProjection(t *testing.T) {
	mod := modulePath(t, ".")
	out, err := exec.Command("go", "list", "-deps", "./bridge", "./scimhttp").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps ./bridge ./scimhttp: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps ./bridge ./scimhttp: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, bad := range storeDeps(mod, deps) {
		t.Errorf("bridge or scimhttp depends on %s", bad)
	}
	if !slices.Contains(deps, mod+"/bridge") || !slices.Contains(deps, mod+"/scimhttp") {
		t.Fatalf("go list -deps named neither bridge nor scimhttp: the check looked at nothing:\n%s", out)
	}
}

// TestStoreDepsCatches: the check names the store and what it links.
func TestStoreDepsCatches(t *testing.T) {
	mod := "example.com/m"
	deps := []string{"fmt", mod + "/schemas", mod + "/projection/view", mod + "/bridge",
		"github.com/dgraph-io/ristretto/v2", "github.com/dgraph-io/badger/v4/y", mod + "/projection",
		"github.com/segmentio/kafka-go", mod + "/events/kafka", mod + "/events"}
	got := storeDeps(mod, deps)
	want := []string{"github.com/dgraph-io/ristretto/v2", "github.com/dgraph-io/badger/v4/y", mod + "/projection",
		"github.com/segmentio/kafka-go", mod + "/events/kafka"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("storeDeps = %q, want %q", got, want)
	}
}

// storeDeps returns the packages of deps that the layers above the
// projection must not depend on: the projection's store, Badger and its
// cache, the Kafka log and kafka-go.
func storeDeps(mod string, deps []string) []string {
	var bad []string
	for _, d := range deps {
		switch {
		case d == mod+"/projection", d == mod+"/events/kafka",
			strings.HasPrefix(d, "github.com/dgraph-io/"),
			strings.HasPrefix(d, "github.com/segmentio/kafka-go"):
			bad = append(bad, d)
		}
	}
	return bad
}

// upwardImports parses the imports of every non-test Go file under the
// layered folders of the module at root and returns one line per import
// that points up the layers or leaves a leaf, and how many internal imports
// it checked.
func upwardImports(root, mod string) (bad []string, checked int, err error) {
	rank := func(rel string) int {
		top, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		for i, l := range layers {
			if top == l {
				return i
			}
		}
		return -1
	}
	dirs := slices.Clone(layers)
	for _, l := range leaves {
		if rank(l) < 0 {
			dirs = append(dirs, l)
		}
	}
	for _, folder := range dirs {
		dir := filepath.Join(root, folder)
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			continue
		}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			from := rank(rel)
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				target, ok := strings.CutPrefix(p, mod+"/")
				if !ok {
					continue
				}
				checked++
				if dir := filepath.ToSlash(filepath.Dir(rel)); slices.Contains(leaves, dir) {
					bad = append(bad, fmt.Sprintf("%s imports %s: %s is a leaf and imports nothing of the module", rel, p, dir))
				}
				if to := rank(target); from >= 0 && to > from {
					bad = append(bad, fmt.Sprintf("%s imports %s: %s may not import %s (docs/architecture.md, Layers)",
						rel, p, layers[from], layers[to]))
				}
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return bad, checked, nil
}

func modulePath(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	t.Fatal("go.mod has no module line")
	return ""
}
