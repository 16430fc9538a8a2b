// Package bridge is the write path of scim-bridge: it turns a SCIM command
// into domain events against the current state, appends them to the log,
// waits until the projection has applied them and returns the new state.
// Writes of one tenant are serialized here.
package bridge

import (
	"context"

	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// Request carries what a write needs besides its body.
type Request struct {
	Tenant    string
	RequestID string
	IfMatch   string // the If-Match header as sent, "" if absent
}

// Create decodes body as a new resource of rt, checks it against current
// state (userName uniqueness, member ids), appends the created event (and
// member events) and returns the resource as the projection now holds it.
func (b *Bridge) Create(ctx context.Context, req Request, rt *schemas.ResourceType, body []byte) (projection.Stored, error) {
	panic("unimplemented")
}

// Replace is PUT.
func (b *Bridge) Replace(ctx context.Context, req Request, rt *schemas.ResourceType, id string, body []byte) (projection.Stored, error) {
	panic("unimplemented")
}

// Patch is PATCH.
func (b *Bridge) Patch(ctx context.Context, req Request, rt *schemas.ResourceType, id string, body []byte) (projection.Stored, error) {
	panic("unimplemented")
}

// Delete is DELETE.
func (b *Bridge) Delete(ctx context.Context, req Request, rt *schemas.ResourceType, id string) error {
	panic("unimplemented")
}

// Bridge is the write path. Safe for concurrent use.
type Bridge struct{}
