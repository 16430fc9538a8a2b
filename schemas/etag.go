package schemas

import (
	"strconv"
	"strings"
)

// Entity tags (RFC 7644 §3.14). A resource's version is a number that every
// write increments; its entity tag is weak, W/"<version>", since the
// representations of one version differ with the attributes a request
// selects. This file holds the one rule for writing tags and for matching
// the If-Match and If-None-Match headers against a version.

// ETag returns the entity tag of a resource version: W/"<version>".
func ETag(version int64) string { return string(AppendETag(nil, version)) }

// AppendETag appends ETag(version) to b.
func AppendETag(b []byte, version int64) []byte {
	b = append(b, `W/"`...)
	b = strconv.AppendInt(b, version, 10)
	return append(b, '"')
}

// ETags is an If-Match or If-None-Match header (RFC 9110 §13.1.1,
// §13.1.2): "*" or a comma-separated list of entity tags. The zero value is
// an absent header.
//
// Tags compare weakly (RFC 9110 §8.8.3.2): W/ and the quotes are optional,
// so W/"3", "3" and 3 all name version 3; "*" anywhere in the list matches
// every version. Clients are lenient about the syntax, and a tag that names
// no version matches nothing.
type ETags struct {
	header string // as sent, trimmed
}

// ParseETags reads an If-Match or If-None-Match header as sent; "" is an
// absent one.
func ParseETags(header string) ETags {
	return ETags{header: strings.TrimSpace(header)}
}

// Present reports whether the header was sent.
func (t ETags) Present() bool { return t.header != "" }

// String returns the header as sent.
func (t ETags) String() string { return t.header }

// Matches reports whether a present header names version or is "*".
func (t ETags) Matches(version int64) bool {
	if t.header == "" {
		return false
	}
	var buf [20]byte
	want := strconv.AppendInt(buf[:0], version, 10)
	for tag := range strings.SplitSeq(t.header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" {
			return true
		}
		tag = strings.Trim(strings.TrimPrefix(tag, "W/"), `"`)
		if tag == string(want) {
			return true
		}
	}
	return false
}

// CheckIfMatch applies If-Match to a resource at version (RFC 7644 §3.14):
// nil when the header is absent or matches, else KindPrecondition.
func (t ETags) CheckIfMatch(version int64) error {
	if !t.Present() || t.Matches(version) {
		return nil
	}
	return Errorf(KindPrecondition, "If-Match %s does not match the current version %s", t.header, ETag(version))
}
