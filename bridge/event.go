package bridge

import (
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// write builds the events of one resource's change, chaining their versions.
type write struct {
	b       *Bridge
	req     Request
	rt      *schemas.ResourceType
	id, ext string
	version int64
	op      string
	digest  string // RequestDigest of the request
	evs     []events.Event
}

func (b *Bridge) newWrite(req Request, rt *schemas.ResourceType, id, externalID string, version int64, op, digest string) *write {
	return &write{b: b, req: req, rt: rt, id: id, ext: externalID, version: version, op: op, digest: digest}
}

func (w *write) add(typ string, r schemas.Resource, changed []string, added, removed []schemas.Member) {
	w.evs = append(w.evs, events.Event{
		ID:                w.b.eventID(),
		Type:              typ,
		Source:            w.b.source,
		Time:              w.b.now().UTC(),
		Tenant:            w.req.Tenant,
		ResourceType:      w.rt.Name,
		ResourceID:        w.id,
		ExternalID:        w.ext,
		Version:           w.version + 1,
		PrevVersion:       w.version,
		ChangedAttributes: changed,
		Resource:          r,
		MembersAdded:      added,
		MembersRemoved:    removed,
		RequestID:         w.req.RequestID,
		RequestDigest:     w.digest,
		Operation:         w.op,
	})
	w.version++
}

func createdType(rt *schemas.ResourceType) string {
	if rt.Name == "Group" {
		return events.GroupCreated
	}
	return events.UserCreated
}

func deletedType(rt *schemas.ResourceType) string {
	if rt.Name == "Group" {
		return events.GroupDeleted
	}
	return events.UserDeleted
}

// updatedType names a user update by what it did to "active": deactivated
// and reactivated are what downstream services act on (revoke sessions,
// restore access), so they get their own types.
func updatedType(rt *schemas.ResourceType, old, next schemas.Resource) string {
	if rt.Name == "Group" {
		return events.GroupUpdated
	}
	was, now := active(old), active(next)
	switch {
	case was && !now:
		return events.UserDeactivated
	case !was && now:
		return events.UserReactivated
	}
	return events.UserUpdated
}

// active reads "active"; a user without it is active (RFC 7643 §4.1.1 leaves
// the default to the service provider; we treat absent as active).
func active(r schemas.Resource) bool {
	v, ok := r["active"].(bool)
	return !ok || v
}
