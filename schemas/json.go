package schemas

import (
	"errors"

	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// ParseRequestJSON parses body, a client's SCIM message, as
// [scimjson.ParseValue] does but with duplicate keys disallowed (see
// [scimjson.Reader.DisallowDuplicateKeys]). Errors are *Error of
// KindInvalidSyntax: one naming the key for a duplicate, else "<what> is not
// valid JSON" (what names the body, e.g. "the request body") wrapping the
// *scimjson.Error.
func ParseRequestJSON(body []byte, what string) (any, error) {
	r := scimjson.NewReader(body)
	r.DisallowDuplicateKeys()
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
// JSON text without duplicate keys, without building its value.
func CheckRequestJSON(body []byte, what string) error {
	r := scimjson.NewReader(body)
	r.DisallowDuplicateKeys()
	err := r.Skip()
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return requestJSONError(err, what)
	}
	return nil
}

func requestJSONError(err error, what string) *Error {
	var de *scimjson.DuplicateKeyError
	if errors.As(err, &de) {
		return &Error{Kind: KindInvalidSyntax, Detail: what + ": " + de.Detail(), Err: err}
	}
	return &Error{Kind: KindInvalidSyntax, Detail: what + " is not valid JSON", Err: err}
}
