// Package view holds the values the read model answers with: a resource as
// the projection stores it, what a read loads with it, a list query and
// one page of its answer.
//
// The projection (package projection) produces them; the bridge, which
// validates writes against the read model, and the HTTP handlers, which
// render reads, consume them. It imports schemas only, so that they can
// speak of reads without importing the store and, through it, Badger.
package view

import (
	"errors"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// ErrVoid is returned by a wait for a record the projection applied as
// void (projection.Store.WaitApplied): a write event older than the claim
// in force before it (its writer no longer owned the partition; the write
// did not happen), or a claim that did not take effect (a claim with a
// higher epoch came first). projection.ErrVoid is the same error.
var ErrVoid = errors.New("the record is void: a claim of its partition fenced it off")

// Stored is a resource as the projection holds it.
type Stored struct {
	Type         string // schemas.User or schemas.Group
	Resource     schemas.Resource
	Version      int64
	Created      time.Time
	LastModified time.Time

	// RequestDigest names the request whose write produced this state (its
	// last event's events.Event.RequestDigest), "" when that event had none.
	RequestDigest string

	// Raw, when not "", is the resource's JSON as stored (an object, keys
	// sorted, encoded as scimjson.Append encodes; see GetOptions.Raw), and
	// Resource then holds only the derived attributes loaded with it
	// (members, groups), nil when there are none. The store does not check
	// it beyond its strings and brackets: a reader validates it as it reads
	// it (schemas.ResourceType.RawMembers, decoding), and damaged state
	// fails there.
	Raw string
}

// SetDerived sets the derived attribute name (members, groups) to v,
// making Resource when it is nil (as it is beside Raw).
func (st *Stored) SetDerived(name string, v any) {
	if st.Resource == nil {
		st.Resource = schemas.Resource{}
	}
	st.Resource[name] = v
}

// GetOptions say what derived attributes to load with a resource.
type GetOptions struct {
	Members bool // a Group's "members" (from the membership index)
	Groups  bool // a User's "groups" (derived from group memberships)

	// Raw asks for the stored JSON of the resource in Stored.Raw instead of
	// its decoded attributes, for a reader that renders it as it is. A
	// record that cannot give it is decoded as without Raw.
	Raw bool
}

// Query is a list request (RFC 7644 §3.4.2).
type Query struct {
	Filter     schemas.Expr      // nil: all
	SortBy     *schemas.AttrPath // nil: by id (stable)
	Descending bool              // with SortBy only
	StartIndex int               // 1-based (values < 1 mean 1); ignored with UseCursor
	Count      int               // page size; 0 gives totals only
	Cursor     string            // RFC 9865; "" with UseCursor starts at the beginning
	UseCursor  bool
	Get        GetOptions
}

// Page is one page of a list.
type Page struct {
	Total      int
	Resources  []Stored
	NextCursor string // RFC 9865; "" on the last page
}
