package bridge

import (
	"fmt"

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
	op      string // the request's method
	epoch   int64  // the bridge's epoch when the write was planned
	evs     []events.Event
}

func (b *Bridge) newWrite(req Request, rt *schemas.ResourceType, id, externalID string, version int64, op string) *write {
	return &write{b: b, req: req, rt: rt, id: id, ext: externalID, version: version, op: op,
		epoch: b.epochFor(req.Tenant)}
}

// SetEpoch sets the epoch the bridge stamps on the events of the writes it
// plans from now on (events.Event.Epoch): that of its claim on the
// partitions it writes for. Zero, the start, is that of a single writer
// that never claims. A write whose events a later claim voids did not
// happen: it fails with KindUnavailable (see view.ErrVoid).
func (b *Bridge) SetEpoch(epoch int64) { b.epoch.Store(epoch) }

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
		Epoch:             w.epoch,
		ChangedAttributes: changed,
		Resource:          r,
		MembersAdded:      added,
		MembersRemoved:    removed,
		RequestID:         w.req.RequestID,
		RequestDigest:     w.req.Digest,
		Operation:         w.op,
	})
	w.version++
}

func createdType(rt *schemas.ResourceType) string {
	if rt.IsGroup() {
		return events.GroupCreated
	}
	return events.UserCreated
}

func deletedType(rt *schemas.ResourceType) string {
	if rt.IsGroup() {
		return events.GroupDeleted
	}
	return events.UserDeleted
}

// updatedType names a user update by what it did to "active": deactivated
// and reactivated are what downstream services act on (revoke sessions,
// restore access), so they get their own types.
func updatedType(rt *schemas.ResourceType, old, next schemas.Resource) string {
	if rt.IsGroup() {
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

// checkSizes refuses a write whose events the log or the projection would
// not take, before anything is appended: an event over
// events.MaxEventBytes, or a resource the projection would store over its
// limits (State.CheckEvent; its JSON escapes <, > and &, so it can outgrow
// the event). The schemas' limits on single values make this rare; it
// bounds the whole.
func (b *Bridge) checkSizes(evs []events.Event) error {
	for i := range evs {
		n, err := events.EncodedSize(&evs[i])
		if err != nil {
			return fmt.Errorf("encode %s: %w", evs[i].Type, err)
		}
		if n > events.MaxEventBytes {
			return schemas.Errorf(schemas.KindTooLarge, "the resource is too large: its event would be %d bytes, over the limit of %d", n, events.MaxEventBytes)
		}
		if err := b.state.CheckEvent(&evs[i], n); err != nil {
			return &schemas.Error{Kind: schemas.KindTooLarge, Detail: "the resource is too large to store: " + err.Error()}
		}
	}
	return nil
}
