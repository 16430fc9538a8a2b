package tenants

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The keys of each object of the tenants file, spelt exactly.
var (
	fileKeys      = []string{"tenants"}
	tenantKeys    = []string{"name", "tokens", "rateLimit", "audit", "strict"}
	rateLimitKeys = []string{"requestsPerSecond", "burst"}
)

// KeyError is a key of the tenants file that is not one of its keys, or
// one given twice in an object; wrapped in an [*EntryError] inside a tenant.
// Err is [ErrUnknownKey] or [ErrDuplicateKey].
type KeyError struct {
	In    string // the object: "" for the top level, or "rateLimit"
	Key   string
	Known []string // the keys the object may have
	Err   error
}

func (e *KeyError) Error() string {
	var b strings.Builder
	if e.In != "" {
		b.WriteString(e.In + ": ")
	}
	if e.Err == ErrDuplicateKey {
		fmt.Fprintf(&b, "key %q given twice", e.Key)
		return b.String()
	}
	fmt.Fprintf(&b, "unknown key %q", e.Key)
	for _, k := range e.Known {
		if strings.EqualFold(k, e.Key) {
			fmt.Fprintf(&b, " (did you mean %q? keys are case-sensitive)", k)
			return b.String()
		}
	}
	q := make([]string, len(e.Known))
	for i, k := range e.Known {
		q[i] = fmt.Sprintf("%q", k)
	}
	fmt.Fprintf(&b, " (known: %s)", strings.Join(q, ", "))
	return b.String()
}

func (e *KeyError) Unwrap() error { return e.Err }

// checkKeys walks the tenants file and returns the first key that is not
// spelt exactly as a key of its object, or is given twice in one, as a
// *KeyError, in an *EntryError naming the tenant when it is inside one.
// encoding/json would match "ratelimit" to rateLimit, and let the last of
// two "tokens" win: a typo must not change what the file means unseen.
// Values of the wrong type are left to the decoder; a syntax error is
// returned as it is.
func checkKeys(data []byte) error {
	w := keyWalker{dec: json.NewDecoder(bytes.NewReader(data))}
	return w.object("", fileKeys, func(string) error {
		return w.array(func(i int) error {
			var name string
			err := w.object("", tenantKeys, func(key string) error {
				switch key {
				case "name":
					tok, err := w.value()
					name, _ = tok.(string)
					return err
				case "rateLimit":
					return w.object("rateLimit", rateLimitKeys, func(string) error {
						_, err := w.value()
						return err
					})
				}
				_, err := w.value()
				return err
			})
			var ke *KeyError
			if errors.As(err, &ke) {
				return &EntryError{Index: i, Name: name, Err: err}
			}
			return err
		})
	})
}

type keyWalker struct{ dec *json.Decoder }

// object reads a value; if it is an object, it checks each key against
// known and has member read the value of a known key. A key error is
// returned once the object has been read to its end (so that a tenant's
// name after its bad key is still known, and the walk can go on); any
// other error at once.
func (w *keyWalker) object(in string, known []string, member func(key string) error) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return w.skip(tok)
	}
	var first error // the first key error
	var seen []string
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // the decoder allows only strings here
		switch {
		case slices.Contains(seen, key):
			err = &KeyError{In: in, Key: key, Known: known, Err: ErrDuplicateKey}
			_, rerr := w.value()
			if rerr != nil {
				return rerr
			}
		case !slices.Contains(known, key):
			err = &KeyError{In: in, Key: key, Known: known, Err: ErrUnknownKey}
			_, rerr := w.value()
			if rerr != nil {
				return rerr
			}
		default:
			err = member(key)
		}
		seen = append(seen, key)
		if first, err = keepFirst(first, err); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil { // '}'
		return err
	}
	return first
}

// array reads a value; if it is an array, elem reads each element. A key
// error is returned once the array has been read to its end.
func (w *keyWalker) array(elem func(i int) error) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		return w.skip(tok)
	}
	var first error // the first key error
	for i := 0; w.dec.More(); i++ {
		if first, err = keepFirst(first, elem(i)); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil { // ']'
		return err
	}
	return first
}

// keepFirst sorts err: a key error (the value it was in has been read
// whole) becomes first unless there is one already; any other error is
// returned as fatal.
func keepFirst(first, err error) (error, error) {
	var ke *KeyError
	var ee *EntryError
	switch {
	case err == nil:
		return first, nil
	case errors.As(err, &ke), errors.As(err, &ee):
		if first == nil {
			first = err
		}
		return first, nil
	}
	return first, err
}

// value reads a value and returns it if it is not an object or array.
func (w *keyWalker) value() (json.Token, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return nil, err
	}
	return tok, w.skip(tok)
}

// skip reads the rest of an object or array whose first token was tok.
func (w *keyWalker) skip(tok json.Token) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for open := 1; open > 0; {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			open++
		case json.Delim('}'), json.Delim(']'):
			open--
		}
	}
	return nil
}
