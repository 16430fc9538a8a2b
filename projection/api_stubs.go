package projection

// Signatures the bridge and scimhttp build against while the store is
// written. The owner moves them into their own files and deletes this one.

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// Options are the optional settings of a Store; the zero value is usable.
type Options struct {
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: no metrics
	InMemory   bool                  // Badger in memory (tests); dir is ignored
}

// Store is the Badger read model. Safe for concurrent use.
type Store struct{}

// Open opens (creating if needed) the projection in dir.
func Open(dir string, reg *schemas.Registry, opts Options) (*Store, error) { panic("unimplemented") }

// Close closes Badger.
func (s *Store) Close() error { panic("unimplemented") }

// Apply applies one record: state, indexes and the partition's applied
// position in one Badger transaction. A record at or below the applied
// position is skipped (idempotent); an event whose PrevVersion does not
// match the stored version is recorded, counted and not applied.
func (s *Store) Apply(rec events.Record) error { panic("unimplemented") }

// Run reads every partition of log from the applied positions and applies
// what it reads until ctx is done. It returns ctx.Err() on cancellation.
func (s *Store) Run(ctx context.Context, log events.Log) error { panic("unimplemented") }

// Applied returns, per partition, the offset of the next record to apply.
func (s *Store) Applied() []int64 { panic("unimplemented") }

// WaitApplied blocks until the record at offset off of partition p has been
// applied (Applied()[p] > off), or ctx is done.
func (s *Store) WaitApplied(ctx context.Context, p int, off int64) error { panic("unimplemented") }

// CaughtUp reports whether every partition's applied position had reached
// the log's end as last observed by Run (readiness).
func (s *Store) CaughtUp() bool { panic("unimplemented") }

// Stored is a resource as the projection holds it.
type Stored struct {
	Type         string // "User" or "Group"
	Resource     schemas.Resource
	Version      int64
	Created      time.Time
	LastModified time.Time
}

// GetOptions say what derived attributes to load with a resource.
type GetOptions struct {
	Members bool // a Group's "members" (from the membership index)
	Groups  bool // a User's "groups" (derived from group memberships)
}

// Get returns one resource of a tenant; a missing one is a *schemas.Error
// of KindNotFound.
func (s *Store) Get(ctx context.Context, tenant, resourceType, id string, o GetOptions) (Stored, error) {
	panic("unimplemented")
}

// UserIDByUserName returns the id of the tenant's user whose userName equals
// userName case-insensitively.
func (s *Store) UserIDByUserName(ctx context.Context, tenant, userName string) (string, bool, error) {
	panic("unimplemented")
}

// Members returns the membership of a group; Contains reads one index key,
// List reads them all.
func (s *Store) Members(ctx context.Context, tenant, groupID string) schemas.Members {
	panic("unimplemented")
}

// GroupsOf returns the ids of the groups the member (user or group) is a
// direct member of, sorted.
func (s *Store) GroupsOf(ctx context.Context, tenant, memberID string) ([]string, error) {
	panic("unimplemented")
}

// Query is a list request (RFC 7644 §3.4.2).
type Query struct {
	Filter     schemas.Expr      // nil: all
	SortBy     *schemas.AttrPath // nil: by id (stable)
	Descending bool
	StartIndex int    // 1-based; ignored when Cursor is set
	Count      int    // page size; 0 gives totals only
	Cursor     string // RFC 9865; "" with UseCursor starts at the beginning
	UseCursor  bool
	Get        GetOptions
}

// Page is one page of a list.
type Page struct {
	Total      int
	Resources  []Stored
	NextCursor string // RFC 9865; "" on the last page
}

// List answers a query over one tenant's resources of one type. A bad cursor
// is a *schemas.Error of KindInvalidCursor.
func (s *Store) List(ctx context.Context, tenant, resourceType string, q Query) (Page, error) {
	panic("unimplemented")
}
