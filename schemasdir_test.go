package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/testutil"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// contosoURN is the Entra-style custom extension the tests declare.
const contosoURN = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"

// contosoSchema is an Entra-style custom extension, like the README's
// example but with an integer attribute to check types with.
const contosoSchema = `{
  "id": "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User",
  "name": "ContosoUser",
  "description": "Contoso's custom user attributes, mapped in Entra ID",
  "resourceType": "User",
  "required": false,
  "attributes": [
    {"name": "costCenterCode", "type": "string", "multiValued": false, "required": false,
     "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
     "description": "Cost center of the user"},
    {"name": "badgeNumber", "type": "integer", "multiValued": false, "required": false,
     "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
     "description": "Number on the user's badge"}
  ]
}`

// groupSchema is a second extension, of groups.
const groupSchema = `{"id":"urn:example:scim:schemas:extension:acme:1.0:Group","name":"AcmeGroup","resourceType":"Group",
 "attributes":[{"name":"budgetOwner","type":"string"}]}`

// writeFiles makes a directory holding files (name -> content).
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadRegistry_Dir(t *testing.T) {
	t.Run("Empty", func(t *testing.T) {
		reg, err := loadRegistry("")
		if err != nil {
			t.Fatalf("loadRegistry(\"\") = %v", err)
		}
		if n := len(reg.Schemas()); n != 3 {
			t.Errorf("loadRegistry(\"\") has %d schemas, want the 3 built-in ones", n)
		}
	})
	t.Run("ConfigMapVolume", func(t *testing.T) {
		// A ConfigMap volume: the files are links into a hidden, dated
		// directory, reached through the "..data" link.
		dir := t.TempDir()
		data := filepath.Join(dir, "..2026_01_01_00_00_00.000000000")
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"contoso.json": contosoSchema, "acme-group.json": groupSchema} {
			if err := os.WriteFile(filepath.Join(data, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(filepath.Base(data), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		reg, err := loadRegistry(dir)
		if err != nil {
			t.Fatalf("loadRegistry(ConfigMap volume) = %v", err)
		}
		var ids []string
		for _, s := range reg.Schemas() {
			ids = append(ids, s.ID)
		}
		// Files load in name order: acme-group.json, then contoso.json.
		want := "urn:ietf:params:scim:schemas:core:2.0:User,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User," +
			"urn:ietf:params:scim:schemas:core:2.0:Group,urn:example:scim:schemas:extension:acme:1.0:Group," + contosoURN
		if got := strings.Join(ids, ","); got != want {
			t.Errorf("Schemas() = %s\nwant %s", got, want)
		}
		user, _ := reg.ResourceType("User")
		if a, _, ok := user.Lookup(schemas.AttrPath{URN: contosoURN, Name: "badgeNumber"}); !ok || a.Type != schemas.TypeInteger {
			t.Errorf("User.Lookup(%s:badgeNumber) = %+v, %v; want the integer attribute", contosoURN, a, ok)
		}
	})
}

// TestLoadRegistry_READMEExample keeps the README's example file loadable.
func TestLoadRegistry_READMEExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Custom extension schemas")
	_, example, ok2 := strings.Cut(section, "```json\n")
	example, _, ok3 := strings.Cut(example, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md: no JSON example under \"### Custom extension schemas\"")
	}
	reg, err := loadRegistry(writeFiles(t, map[string]string{"contoso.json": example}))
	if err != nil {
		t.Fatalf("the README's example: %v", err)
	}
	user, _ := reg.ResourceType("User")
	for _, name := range []string{"costCenterCode", "badgeNumber"} {
		if _, _, ok := user.Lookup(schemas.AttrPath{URN: contosoURN, Name: name}); !ok {
			t.Errorf("the README's example does not define %s:%s", contosoURN, name)
		}
	}
}

// TestLoadRegistry_Errors checks that every bad directory is refused with
// an error naming SCIM_SCHEMAS_DIR, the file at fault and the problem.
func TestLoadRegistry_Errors(t *testing.T) {
	attr := func(a string) string {
		return `{"id":"urn:acme:scim:ext","name":"Acme","resourceType":"User","attributes":[` + a + `]}`
	}
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"BadJSON", map[string]string{"contoso.json": contosoSchema, "broken.json": `{"id": "urn:acme:x",`}, []string{"broken.json", "not valid JSON"}},
		{"NotAnObject", map[string]string{"list.json": `[` + contosoSchema + `]`}, []string{"list.json", "expected a JSON object"}},
		{"MissingID", map[string]string{"noid.json": `{"name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`}, []string{"noid.json", `no "id"`}},
		{"IDNotURN", map[string]string{"x.json": `{"id":"Contoso:User","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`}, []string{"x.json", `"Contoso:User" is not a URN`}},
		{"DuplicateID", map[string]string{"a.json": contosoSchema, "b.json": contosoSchema}, []string{"b.json", "already defined by a.json"}},
		{"EnterpriseID", map[string]string{"ent.json": strings.Replace(contosoSchema, contosoURN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", 1)}, []string{"ent.json", "already defined by the built-in schemas"}},
		{"CoreGroupID", map[string]string{"g.json": strings.Replace(groupSchema, "urn:example:scim:schemas:extension:acme:1.0:Group", "urn:ietf:params:scim:schemas:core:2.0:Group", 1)}, []string{"g.json", "already defined by the built-in schemas"}},
		{"MissingResourceType", map[string]string{"nort.json": `{"id":"urn:acme:x","name":"X","attributes":[{"name":"a","type":"string"}]}`}, []string{"nort.json", `no "resourceType"`}},
		{"UnknownResourceType", map[string]string{"dev.json": strings.Replace(contosoSchema, `"resourceType": "User"`, `"resourceType": "Device"`, 1)}, []string{"dev.json", `"Device" is not User or Group`}},
		{"BadAttributeType", map[string]string{"t.json": attr(`{"name":"a","type":"text"}`)}, []string{"t.json", `attribute "a"`, `unknown type "text"`}},
		{"BadMutability", map[string]string{"m.json": attr(`{"name":"a","type":"string","mutability":"sometimes"}`)}, []string{"m.json", `attribute "a"`, `unknown mutability "sometimes"`}},
		{"BadCharacteristicValue", map[string]string{"c.json": attr(`{"name":"a","type":"string","caseExact":"no"}`)}, []string{"c.json", "caseExact", "expected true or false"}},
		{"UnknownKey", map[string]string{"k.json": attr(`{"name":"a","type":"string","maxLength":3}`)}, []string{"k.json", `unknown key "maxLength"`}},
		{"SubAttributesOnString", map[string]string{"s.json": attr(`{"name":"a","type":"string","subAttributes":[{"name":"b","type":"string"}]}`)}, []string{"s.json", `attribute "a"`, "sub-attributes on a string"}},
		{"BadAttributeName", map[string]string{"n.json": attr(`{"name":"cost center","type":"string"}`)}, []string{"n.json", `attribute "cost center"`, "invalid name"}},
		{"UniquenessNotEnforced", map[string]string{"u.json": attr(`{"name":"badge","type":"string","uniqueness":"server"}`)}, []string{"u.json", `attribute "badge"`, "uniqueness server"}},
		{"NotJSONFile", map[string]string{"contoso.json": contosoSchema, "README.md": "# schemas"}, []string{"README.md", "not a .json file"}},
		{"NoFiles", map[string]string{}, []string{"no extension schema file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := loadRegistry(dir)
			if err == nil {
				t.Fatalf("loadRegistry(%v) = nil error, want one naming %q", tt.files, tt.want)
			}
			for _, w := range append([]string{"SCIM_SCHEMAS_DIR " + dir + ": "}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("loadRegistry(%v) error = %q, want it to contain %q", tt.files, err, w)
				}
			}
		})
	}
	t.Run("Subdirectory", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"contoso.json": contosoSchema})
		if err := os.Mkdir(filepath.Join(dir, "old"), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := loadRegistry(dir); err == nil || !strings.Contains(err.Error(), "SCIM_SCHEMAS_DIR") || !strings.Contains(err.Error(), "old: not a file") {
			t.Errorf("loadRegistry(dir with a subdirectory) = %v, want an error naming SCIM_SCHEMAS_DIR and old", err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		if _, err := loadRegistry(dir); err == nil || !strings.Contains(err.Error(), "SCIM_SCHEMAS_DIR "+dir) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("loadRegistry(missing dir) = %v, want a not-exist error naming SCIM_SCHEMAS_DIR", err)
		}
	})
}

// TestRun_SchemasDirInvalid checks that serve and rebuild refuse to start on
// a bad directory, naming the variable and the file.
func TestRun_SchemasDirInvalid(t *testing.T) {
	dir := writeFiles(t, map[string]string{"contoso.json": strings.Replace(contosoSchema, `"integer"`, `"number"`, 1)})
	for _, cmd := range []string{"serve", "rebuild"} {
		t.Run(cmd, func(t *testing.T) {
			env := map[string]string{
				"SCIM_LISTEN": "127.0.0.1:0", "SCIM_DATA_DIR": t.TempDir(), "SCIM_TOKEN": testToken,
				"SCIM_LOG_LEVEL": "warn", "SCIM_SCHEMAS_DIR": dir,
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started := make(chan string, 1)
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{cmd}, func(k string) string { return env[k] }, io.Discard, testutil.Writer(t), started)
			}()
			var err error
			select {
			case addr := <-started:
				t.Errorf("%s started listening on %s with a bad SCIM_SCHEMAS_DIR", cmd, addr)
				cancel()
				err = <-done
			case err = <-done:
			}
			if err == nil || !strings.Contains(err.Error(), "SCIM_SCHEMAS_DIR "+dir) || !strings.Contains(err.Error(), `contoso.json: attribute "badgeNumber": unknown type "number"`) {
				t.Errorf("%s with a bad SCIM_SCHEMAS_DIR = %v, want an error naming it, contoso.json and badgeNumber", cmd, err)
			}
		})
	}
	t.Run("Flag", func(t *testing.T) {
		env := map[string]string{"SCIM_DATA_DIR": t.TempDir(), "SCIM_TOKEN": testToken}
		err := run(context.Background(), []string{"serve", "--schemas-dir", dir}, func(k string) string { return env[k] }, io.Discard, testutil.Writer(t), nil)
		if err == nil || !strings.Contains(err.Error(), "SCIM_SCHEMAS_DIR "+dir) {
			t.Errorf("serve --schemas-dir %s = %v, want an error naming SCIM_SCHEMAS_DIR", dir, err)
		}
	})
}
