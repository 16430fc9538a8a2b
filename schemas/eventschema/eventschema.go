// Package eventschema holds the published contract of scim-bridge's event
// topic: one JSON Schema (draft 2020-12) per event type describing the
// record value, a schema of the CloudEvents headers, and an AsyncAPI 3.0
// document of the topic (asyncapi.yaml), all embedded in FS. Validate and
// ValidateHeaders check records against them; tests of the producers use
// them to keep what is produced and what is published in step.
//
// Like the rest of schemas/ it is pure (no I/O but reading its own embedded
// files) and must not import events: the event type names are repeated
// here, and events/kafka's tests check that both lists agree.
package eventschema

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// FS holds json/<type>.json for every event type, json/common.json (the
// fields every event shares), json/headers.json (the record headers) and
// asyncapi.yaml.
//
//go:embed json/*.json asyncapi.yaml
var FS embed.FS

// BaseURI is the base of the schemas' $id: json/<name> has the $id
// BaseURI + "<name>". The documents are identified, not fetched: every
// $ref resolves within FS.
const BaseURI = "https://github.com/scim-bridge/scim-bridge/schemas/eventschema/json/"

// ErrUnknownType is returned (wrapped) for an event type without a schema.
var ErrUnknownType = errors.New("unknown event type")

// ErrInvalid is returned (wrapped) by Validate and ValidateHeaders for a
// record that does not match its schema.
var ErrInvalid = errors.New("event does not match its schema")

// types are the record types, in the order of the contract (DESIGN.md §4):
// the event types, then the claim record, which is no event but travels
// on the same topic.
var types = []string{
	"user.created", "user.updated", "user.deactivated", "user.reactivated", "user.deleted",
	"group.created", "group.updated", "group.deleted", "group.members_added", "group.members_removed",
	"partition.claimed",
}

// Types returns the record types that have a schema: every event type and
// "partition.claimed".
func Types() []string { return slices.Clone(types) }

// Schema returns the JSON Schema document of the record value of events of
// type eventType (e.g. "user.created").
func Schema(eventType string) ([]byte, error) {
	if !slices.Contains(types, eventType) {
		return nil, fmt.Errorf("schema of %q: %w", eventType, ErrUnknownType)
	}
	return FS.ReadFile("json/" + eventType + ".json")
}

// Validate checks a record value (the JSON event data) against the schema
// of eventType. Errors wrap ErrInvalid (with the validator's explanation)
// or ErrUnknownType.
func Validate(eventType string, value []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("validate %s value: %w: %w", eventType, ErrInvalid, err)
	}
	return validate(eventType, "", inst)
}

// ValidateHeaders checks the record headers of an event of type eventType
// (header name to value) against json/headers.json, with ce_type equal to
// eventType and ce_subject naming its resource type; those of a claim
// against the headers of json/partition.claimed.json.
func ValidateHeaders(eventType string, headers map[string]string) error {
	inst := make(map[string]any, len(headers))
	for k, v := range headers {
		inst[k] = v
	}
	return validate(eventType, "#/$defs/headers", inst)
}

func validate(eventType, fragment string, inst any) error {
	sets, err := compiled()
	if err != nil {
		return err
	}
	s, ok := sets[eventType+fragment]
	if !ok {
		return fmt.Errorf("validate %q: %w", eventType, ErrUnknownType)
	}
	if err := s.Validate(inst); err != nil {
		what := "value"
		if fragment != "" {
			what = "headers"
		}
		return fmt.Errorf("validate %s %s: %w: %w", eventType, what, ErrInvalid, err)
	}
	return nil
}

// compiled compiles every schema once; like a compiled regexp it never
// changes afterwards.
var compiled = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat() // ce_time is checked as an RFC 3339 date-time
	files, err := FS.ReadDir("json")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := FS.ReadFile("json/" + f.Name())
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("json/%s: %w", f.Name(), err)
		}
		if err := c.AddResource(BaseURI+f.Name(), doc); err != nil {
			return nil, fmt.Errorf("json/%s: %w", f.Name(), err)
		}
	}
	sets := make(map[string]*jsonschema.Schema, 2*len(types))
	for _, t := range types {
		for _, frag := range []string{"", "#/$defs/headers"} {
			s, err := c.Compile(BaseURI + t + ".json" + frag)
			if err != nil {
				return nil, fmt.Errorf("compile %s%s: %w", t, frag, err)
			}
			sets[t+frag] = s
		}
	}
	return sets, nil
})
