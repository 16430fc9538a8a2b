package schemas

import (
	"errors"
	"fmt"

	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// ParseRequestJSON parses body, a client's SCIM message, as
// [scimjson.ParseValue] does but with duplicate keys disallowed (see
// [scimjson.Reader.DisallowDuplicateKeys]). Errors are *Error of
// KindInvalidSyntax: one naming the key for a duplicate, else "<what> is not
// valid JSON" (what names the body, e.g. "the request body") wrapping the
// *scimjson.Error; and, with maxValues > 0, KindTooLarge for a body of more
// than maxValues JSON values and object keys ([scimjson.Reader.LimitValues]).
func ParseRequestJSON(body []byte, what string, maxValues int) (any, error) {
	r := scimjson.NewReader(body)
	r.DisallowDuplicateKeys()
	r.LimitValues(maxValues)
	v, err := r.Value()
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return nil, requestJSONError(err, what)
	}
	return v, nil
}

// CheckRequestJSON reports, as ParseRequestJSON does, whether body is one
// JSON text without duplicate keys and of at most maxValues values and
// object keys (maxValues > 0), without building its value: a body over
// the limit is refused before any memory is spent on its values. It
// returns the number of values and keys, which decoding the body costs
// memory by.
func CheckRequestJSON(body []byte, what string, maxValues int) (values int, err error) {
	r := scimjson.NewReader(body)
	r.DisallowDuplicateKeys()
	r.LimitValues(maxValues)
	err = r.Skip()
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return 0, requestJSONError(err, what)
	}
	return r.Values(), nil
}

func requestJSONError(err error, what string) *Error {
	var de *scimjson.DuplicateKeyError
	if errors.As(err, &de) {
		return &Error{Kind: KindInvalidSyntax, Detail: what + ": " + de.Detail(), Err: err}
	}
	var tm *scimjson.TooManyValuesError
	if errors.As(err, &tm) {
		return &Error{Kind: KindTooLarge, Detail: fmt.Sprintf("%s holds more than %d JSON values (object keys included)", what, tm.Limit), Err: err}
	}
	return &Error{Kind: KindInvalidSyntax, Detail: what + " is not valid JSON", Err: err}
}
