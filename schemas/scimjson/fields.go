package scimjson

import (
	"fmt"
	"strconv"
	"strings"
)

// Helpers for decoding a struct's fields with a Reader the way
// encoding/json decodes them, shared by the event codec and the projection's
// record decoder.

// MatchField returns the name in names that an object key selects as
// encoding/json matches struct fields: exactly, or else case-insensitively;
// "" for none (the value is then skipped).
func MatchField(key string, names []string) string {
	for _, n := range names {
		if key == n {
			return n
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return n
		}
	}
	return ""
}

// StringInto reads a string into *p; null leaves *p as it was.
func (r *Reader) StringInto(p *string) error {
	if r.Null() {
		return nil
	}
	s, err := r.String()
	if err != nil {
		return err
	}
	*p = s
	return nil
}

// Int64Into reads an integer into *p; null leaves *p as it was.
func (r *Reader) Int64Into(p *int64) error {
	if r.Null() {
		return nil
	}
	s, err := r.Number()
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("number %s is not an int64", s)
	}
	*p = n
	return nil
}

// ObjectInto reads an object into *p, merging it into a map already there
// (a repeated key of the enclosing object); null sets nil. M is
// map[string]any or a type defined on it, such as schemas.Resource.
func ObjectInto[M ~map[string]any](r *Reader, p *M) error {
	if r.Null() {
		*p = nil
		return nil
	}
	if r.Peek() != '{' {
		return r.Object(nil) // the type error
	}
	v, err := r.Value()
	if err != nil {
		return err
	}
	m := v.(map[string]any)
	if *p == nil {
		*p = m
		return nil
	}
	for k, x := range m {
		(*p)[k] = x
	}
	return nil
}
