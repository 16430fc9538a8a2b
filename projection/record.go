package projection

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// Resource type names as stored in keys.
const (
	typeUser  = schemas.User
	typeGroup = schemas.Group
)

// canonicalType returns "User" or "Group" for any spelling of them, else "".
func canonicalType(t string) string {
	switch {
	case strings.EqualFold(t, typeUser):
		return typeUser
	case strings.EqualFold(t, typeGroup):
		return typeGroup
	}
	return ""
}

// record is the value under a resource key. Times are UTC, so encoding/json
// writes them the same way every time (RFC 3339 with nanoseconds); the
// Resource marshals with sorted keys. Together: deterministic bytes.
type record struct {
	Resource     schemas.Resource `json:"resource"`
	Version      int64            `json:"version"`
	Created      time.Time        `json:"created"`
	LastModified time.Time        `json:"lastModified"`
	EventID      string           `json:"eventId,omitempty"` // ce_id of the last applied event

	// RequestDigest is the events.Event.RequestDigest of the last applied
	// event: the request that produced this state ("" before digests).
	RequestDigest string `json:"requestDigest,omitempty"`

	// raw is the resource's JSON as stored, when read by decodeRecordRaw
	// (and Resource is then nil); never written.
	raw string

	// resourceJSON is the text Resource was decoded from, when applying
	// knows it (events.Record.ResourceJSON): encodeRecord writes it as it
	// is when it is what writing Resource gives (scimjson.Canonical).
	resourceJSON string
}

func (r *record) stored(typ string) view.Stored {
	return view.Stored{Type: typ, Resource: r.Resource, Version: r.Version, Created: r.Created, LastModified: r.LastModified,
		RequestDigest: r.RequestDigest, Raw: r.raw}
}

// decodeRecord decodes a record as encoding/json's Decoder with UseNumber
// decodes its first value into a record, without reflection (it was the
// biggest cost of a read): keys match field names case-insensitively,
// unknown fields are skipped, null leaves a field as it was except the
// resource, which it sets to nil, a repeated resource merges into the
// first, and what follows the first value is not looked at.
func decodeRecord(v []byte) (*record, error) {
	var r record
	if err := decodeWholeInto(v, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// decodeRecordRaw is decodeRecord keeping the resource as its stored JSON
// (record.raw) instead of decoding it, for a reader that renders it as it
// is (view.GetOptions.Raw). A record whose resource is not one object
// (null, or named twice, which decodeRecord merges) is decoded whole. The
// resource's JSON is only delimited (scimjson.Reader.RawComposite), not
// checked: its reader validates it (view.Stored.Raw), so that a GET walks
// it once.
func decodeRecordRaw(v []byte) (*record, error) {
	var rec record
	if err := decodeRecordRawInto(v, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// decodeRecordRawInto is decodeRecordRaw into rec, which must be zero.
func decodeRecordRawInto(v []byte, rec *record) error {
	r := scimjson.NewReader(v)
	if r.Peek() != '{' {
		return decodeWholeInto(v, rec)
	}
	seen := false
	err := r.Object(func(key string) error {
		field := scimjson.MatchField(key, recordFields)
		if field == "resource" {
			if seen || r.Peek() != '{' {
				return errWhole
			}
			seen = true
			var err error
			rec.raw, err = r.RawComposite()
			return err
		}
		return rec.readMeta(r, field)
	})
	if errors.Is(err, errWhole) || err == nil && !seen {
		*rec = record{}
		return decodeWholeInto(v, rec)
	}
	if err != nil {
		return fmt.Errorf("decode stored resource: %w", err)
	}
	return nil
}

// decodeWholeInto is decodeRecord into rec.
func decodeWholeInto(v []byte, rec *record) error {
	if err := decodeRecordInto(v, rec); err != nil {
		return fmt.Errorf("decode stored resource: %w", err)
	}
	return nil
}

// errWhole stops decodeRecordRaw at a record it leaves to decodeRecord.
var errWhole = errors.New("decode the whole record")

// recordFields are the JSON names of record's fields.
var recordFields = []string{"resource", "version", "created", "lastModified", "eventId", "requestDigest"}

func decodeRecordInto(v []byte, rec *record) error {
	return walkRecord(v, func(r *scimjson.Reader, field string) error {
		if field == "resource" {
			return scimjson.ObjectInto(r, &rec.Resource)
		}
		return rec.readMeta(r, field)
	})
}

// readMeta reads the value r is at into the record field field names
// (recordFields), other than the resource; any other value is skipped.
func (rec *record) readMeta(r *scimjson.Reader, field string) error {
	switch field {
	case "version":
		return r.Int64Into(&rec.Version)
	case "created":
		return readRecordTime(r, &rec.Created)
	case "lastModified":
		return readRecordTime(r, &rec.LastModified)
	case "eventId":
		return r.StringInto(&rec.EventID)
	case "requestDigest":
		return r.StringInto(&rec.RequestDigest)
	}
	return r.Skip()
}

// walkRecord reads the first JSON value of a stored record as
// encoding/json's Decoder would into a record: no value at all is io.EOF,
// null is nothing, and for each member of an object fn is called with the
// record field its key matches (case-insensitively; "" for none) and must
// read the member's value.
func walkRecord(v []byte, fn func(r *scimjson.Reader, field string) error) error {
	r := scimjson.NewReader(v)
	if r.Peek() == 0 && len(bytes.TrimLeft(v, " \t\r\n")) == 0 {
		return io.EOF // what the Decoder reports for no value at all
	}
	if r.Null() {
		return nil
	}
	return r.Object(func(key string) error { return fn(r, scimjson.MatchField(key, recordFields)) })
}

// readRecordTime reads a time as encoding/json does: null leaves *t as it
// was, anything else goes to time.Time.UnmarshalJSON as written.
func readRecordTime(r *scimjson.Reader, t *time.Time) error {
	if r.Null() {
		return nil
	}
	raw, err := r.RawString()
	if err != nil {
		return err
	}
	return t.UnmarshalJSON(raw)
}

// loadRecord reads the resource at key, or nil when there is none.
// A miss, the common case of a replay, allocates nothing.
func loadRecord(txn kvReader, key []byte) (*record, error) {
	v, found, err := txn.value(nil, key)
	if err != nil || !found {
		return nil, err
	}
	r, err := decodeRecord(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadState, err)
	}
	return r, nil
}

// readRecord reads the record at key into rec, which must be zero, as
// loadRecord does (decodeRecordRaw when raw), for the reads of GET and
// of list pages: straight from Badger, the record on the caller's stack,
// where the kv interface's callback and the record it returns cost three
// allocations of a point read's few dozen. found is false when there is
// none.
func readRecord(txn *badger.Txn, key []byte, raw bool, rec *record) (found bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = item.Value(func(v []byte) error { return decodeRecordAs(v, raw, rec) })
	return err == nil, err
}

// decodeRecordAs decodes v into rec, which must be zero, as readRecord
// does.
func decodeRecordAs(v []byte, raw bool, rec *record) error {
	var err error
	if raw {
		err = decodeRecordRawInto(v, rec)
	} else {
		err = decodeWholeInto(v, rec)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errBadState, err)
	}
	return nil
}

// readHolder is readRecord for the user at key that a hint names as the
// holder of the folded userName: it reads the record into rec, and
// reports held, only when the record is there and its userName folds to
// folded (foldedUserName), checked on the stored bytes before they are
// decoded. A record whose userName cannot be read is not the holder (the
// caller reads the userName's key instead).
func readHolder(txn *badger.Txn, key []byte, folded string, raw bool, rec *record) (held bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = item.Value(func(v []byte) error {
		un, err := decodeResourceString(v, "userName")
		if err != nil || fold(un) != folded {
			return nil
		}
		held = true
		return decodeRecordAs(v, raw, rec)
	})
	return held && err == nil, err
}

// errBadState marks stored state that does not decode: written by another
// version, or damaged. An event that would change it is skipped (reason
// bad_state) rather than retried forever; reads report it as an error.
var errBadState = errors.New("stored state does not decode")

// loadDisplayName reads the displayName of the resource at key (a group's,
// for User.groups) without decoding the rest of its record; found is false
// when there is no resource.
func loadDisplayName(txn *badger.Txn, key []byte) (dn string, found bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	err = item.Value(func(v []byte) error {
		dn, err = decodeDisplayName(v)
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("decode stored resource: %w", err)
	}
	return dn, true, nil
}

// decodeDisplayName returns what decodeRecord(v).Resource["displayName"]
// holds when it is a string, else "", reading only that member.
func decodeDisplayName(v []byte) (string, error) { return decodeResourceString(v, "displayName") }

// decodeResourceString returns what decodeRecord(v).Resource[name] holds
// when it is a string, else "", reading only that member.
func decodeResourceString(v []byte, name string) (string, error) {
	var dn string
	err := walkRecord(v, func(r *scimjson.Reader, field string) error {
		if field != "resource" {
			return r.Skip()
		}
		if r.Null() {
			dn = "" // the resource is now nil
			return nil
		}
		return r.Object(func(key string) error {
			if key != name {
				return r.Skip()
			}
			if r.Peek() != '"' {
				dn = ""
				return r.Skip()
			}
			return r.StringInto(&dn)
		})
	})
	return dn, err
}

// indexKeys returns every secondary index key of resource id of typ held as
// r but a user's userName entry, which is in its userName's key with the
// other users holding it (syncUserNameKey), built in a (nil: allocated).
func indexKeys(a *keyArena, tenant, typ, id string, r *record) [][]byte {
	emails := 0
	if typ == typeUser {
		list, _ := r.Resource["emails"].([]any)
		emails = len(list)
	}
	keys := make([][]byte, 1, 3+emails)
	keys[0] = a.modifiedKey(tenant, typ, r.LastModified, id)
	if ext := r.Resource.ExternalID(); ext != "" {
		keys = append(keys, a.externalIDKey(tenant, typ, ext, id))
	}
	switch typ {
	case typeUser:
		for _, e := range emailValues(r.Resource) {
			keys = append(keys, a.emailKey(tenant, e, id))
		}
	case typeGroup:
		if dn, ok := r.Resource["displayName"].(string); ok && dn != "" {
			keys = append(keys, displayNameKey(tenant, fold(dn), id))
		}
	}
	return keys
}

// emailValues returns the distinct folded emails[].value strings of r.
func emailValues(r schemas.Resource) []string {
	list, _ := r["emails"].([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		m, _ := e.(map[string]any)
		v, _ := m["value"].(string)
		if v == "" {
			continue
		}
		v = fold(v)
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// withoutMembers returns r without "members", copying only if it had them:
// members live in the membership index, never in the stored resource.
func withoutMembers(r schemas.Resource) schemas.Resource {
	if _, ok := r["members"]; !ok {
		return r
	}
	c := make(schemas.Resource, len(r))
	for k, v := range r {
		if k != "members" {
			c[k] = v
		}
	}
	return c
}
