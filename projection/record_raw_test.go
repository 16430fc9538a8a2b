package projection

import (
	"context"
	"reflect"
	"testing"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// TestDecodeRecordRaw_MatchesDecodeRecord: wherever decodeRecord reads a
// record, decodeRecordRaw reads the same record, its resource either
// decoded the same or kept as JSON that decodes to it.
func TestDecodeRecordRaw_MatchesDecodeRecord(t *testing.T) {
	cases := append([]string{
		`{"version":2,"resource":{"id":"u1","n":1.50,"s":"\u003c"},"created":"2024-01-02T03:04:05Z"}`,
		`{"resource":null,"resource":{"a":1}}`, `{"Resource":{"a":1}}`, `{"resource":"x"}`, `{"resource":{"a":1},"version":"x"}`,
	}, decodeRecordCases...)
	for _, in := range cases {
		t.Run(in, func(t *testing.T) { checkDecodeRecordRaw(t, []byte(in)) })
	}
}

// checkDecodeRecordRaw: decodeRecordRaw reads what decodeRecord reads, or
// fails where it fails, except that a resource it keeps as JSON is not
// checked (scimjson.Reader.RawComposite): where decodeRecord finds it
// invalid, the JSON kept does not parse.
func checkDecodeRecordRaw(t *testing.T, in []byte) {
	t.Helper()
	want, wantErr := decodeRecord(in)
	got, err := decodeRecordRaw(in)
	if err != nil && wantErr == nil {
		t.Fatalf("decodeRecordRaw(%q) error %v, decodeRecord none", in, err)
	}
	if err != nil {
		return
	}
	if got.raw != "" {
		if got.Resource != nil {
			t.Errorf("decodeRecordRaw(%q) = %#v: both raw and Resource", in, got)
		}
		r, perr := scimjson.ParseObject([]byte(got.raw))
		if wantErr != nil {
			if perr == nil {
				t.Fatalf("decodeRecordRaw(%q) kept %q, which parses, where decodeRecord fails: %v", in, got.raw, wantErr)
			}
			return
		}
		if perr != nil {
			t.Fatalf("raw %q: %v", got.raw, perr)
		}
		got.Resource, got.raw = r, ""
	}
	if wantErr != nil {
		t.Fatalf("decodeRecordRaw(%q) = %#v, decodeRecord error %v", in, got, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeRecordRaw(%q) = %#v\ndecodeRecord gives %#v", in, got, want)
	}
}

func FuzzDecodeRecordRaw(f *testing.F) {
	for _, in := range decodeRecordCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkDecodeRecordRaw(t, in) })
}

// TestGet_Raw checks that a read asking for the stored JSON gets the bytes
// encodeRecord wrote for the resource, with the derived attributes beside
// them, by id and in list pages (index plan and unfiltered).
func TestGet_Raw(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, Options{})
	f := newFeed()
	f.userCreated("acme", "u1", "alice", "title", "<Boss> & \u2028")
	f.userCreated("acme", "u2", "bob")
	f.groupCreated("acme", "g1", "Admins")
	f.addMembers("acme", "g1", "u1")
	applyAll(t, s, f.recs)

	plain, err := s.Get(ctx, "acme", "User", "u1", view.GetOptions{Groups: true})
	if err != nil {
		t.Fatalf("Get() = %v", err)
	}
	check := func(t *testing.T, got view.Stored) {
		t.Helper()
		wantRaw, err := scimjson.Append(nil, map[string]any(withoutKey(plain.Resource, "groups")))
		if err != nil {
			t.Fatal(err)
		}
		if got.Raw != string(wantRaw) {
			t.Errorf("Raw = %s, want %s", got.Raw, wantRaw)
		}
		if want := (schemas.Resource{"groups": plain.Resource["groups"]}); !reflect.DeepEqual(got.Resource, want) {
			t.Errorf("Resource = %v, want the derived %v", got.Resource, want)
		}
		got.Raw, got.Resource = "", nil
		want := plain
		want.Resource = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Stored = %+v, want %+v", got, want)
		}
	}
	t.Run("Get", func(t *testing.T) {
		got, err := s.Get(ctx, "acme", "User", "u1", view.GetOptions{Groups: true, Raw: true})
		if err != nil {
			t.Fatalf("Get() = %v", err)
		}
		check(t, got)
	})
	t.Run("UserNameEq", func(t *testing.T) {
		e, err := schemas.ParseFilter(`userName eq "ALICE"`)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.List(ctx, "acme", "User", view.Query{Filter: e, Count: 10, Get: view.GetOptions{Groups: true, Raw: true}})
		if err != nil || len(p.Resources) != 1 {
			t.Fatalf("List() = %+v, %v; want u1", p, err)
		}
		check(t, p.Resources[0])
	})
	t.Run("Unfiltered", func(t *testing.T) {
		p, err := s.List(ctx, "acme", "User", view.Query{Count: 1, Get: view.GetOptions{Groups: true, Raw: true}})
		if err != nil || len(p.Resources) != 1 {
			t.Fatalf("List() = %+v, %v; want u1", p, err)
		}
		check(t, p.Resources[0])
	})
	t.Run("NoDerived", func(t *testing.T) {
		got, err := s.Get(ctx, "acme", "User", "u2", view.GetOptions{Groups: true, Raw: true})
		if err != nil {
			t.Fatalf("Get() = %v", err)
		}
		if got.Raw == "" || got.Resource != nil {
			t.Errorf("Get(u2) = %+v, want Raw and no derived attributes", got)
		}
	})
}

func withoutKey(r schemas.Resource, k string) schemas.Resource {
	c := make(schemas.Resource, len(r))
	for k2, v := range r {
		if k2 != k {
			c[k2] = v
		}
	}
	return c
}
