package projection

import (
	"context"
	"encoding/binary"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
)

// Requests. Every event names the request that caused it
// (events.Event.RequestDigest), and a resource's record keeps the digest of
// its last event: the request that produced its current state. So that the
// bridge can recognise a retried request whose first attempt landed after
// it was answered 503, two more things are kept:
//
//   - q: for a resource created by a POST and not changed since, the
//     POST's digest -> its id (a POST names no id, and groups have no
//     unique attribute to find them by). The key goes when the resource
//     changes or is deleted: at most one per resource.
//   - y: a tombstone per deleted resource, holding the DELETE's digest.
//     Each tenant keeps its last Options.tombstones (10,000) of them in a
//     ring: v counts the tombstones written, and slot v mod the ring size,
//     under w, names the tombstone it holds, which the next write to the
//     slot deletes. So a tenant's tombstones cost at most two small keys
//     each, 10,000 of them, whatever it deletes.
//
// A retry can land twice: its first attempt may be appended after the
// retry read the log's end (a produce request the broker processes late, a
// commit that outlasts its deadline), and then the log holds two created
// events of one POST, with the same digest and different ids. Updates and
// deletes of a resource need nothing more (the second carries a version
// already applied), but a created event whose digest's q key names another
// resource is that second landing, and changes nothing: one POST creates
// one resource.
//
// All of it follows from the events alone (the ring advances per applied
// delete event), so replays stay deterministic.

func createdByKey(tenant, digest string) []byte {
	return appendStr(tenantNS(tenant, nsCreatedBy), digest)
}

func deletedKey(tenant, typ, id string) []byte {
	return appendStr(appendStr(tenantNS(tenant, nsDeleted), typ), id)
}

func deletedRingKey(tenant string, slot uint32) []byte {
	return appendU32(tenantNS(tenant, nsDeletedRing), slot)
}

func deletedNextKey(tenant string) []byte { return tenantNS(tenant, nsDeletedNext) }

// trackRequest keeps the keys above in step with ev, which is about to be
// applied over cur (nil when absent): the POST index of a created resource,
// its removal when the state that POST produced is replaced, and the
// tombstone of a delete. Events without a digest leave no trace. It
// reports a created event that is the second landing of its POST, which
// must change nothing.
func (s *Store) trackRequest(txn *writeTxn, ev *events.Event, typ string, cur *record) (again bool, err error) {
	// A POST writes at most two events (a group's members follow its
	// creation), so only a state at version 1 or 2 can have a q key.
	if cur != nil && cur.Version <= 2 && cur.RequestDigest != "" && cur.RequestDigest != ev.RequestDigest {
		if err := dropCreatedBy(txn, ev.Tenant, cur.RequestDigest, ev.ResourceID); err != nil {
			return false, err
		}
	}
	if ev.RequestDigest == "" {
		return false, nil
	}
	switch ev.Type {
	case events.UserCreated, events.GroupCreated:
		k := createdByKey(ev.Tenant, ev.RequestDigest)
		if txn.filter.mayHave(k) {
			v, found, err := getValue(txn.kv, k)
			if err != nil {
				return false, err
			}
			if found && string(v) != ev.ResourceID {
				return true, nil
			}
		}
		txn.filter.add(k)
		return false, txn.Set(k, []byte(ev.ResourceID))
	case events.UserDeleted, events.GroupDeleted:
		return false, s.putTombstone(txn, ev.Tenant, typ, ev.ResourceID, ev.RequestDigest)
	}
	return false, nil
}

// dropCreatedBy deletes the POST index entry of digest if it names id.
func dropCreatedBy(txn *writeTxn, tenant, digest, id string) error {
	k := createdByKey(tenant, digest)
	v, found, err := getValue(txn.kv, k)
	if err != nil || !found || string(v) != id {
		return err
	}
	return txn.Delete(k)
}

// putTombstone records that the DELETE with digest removed resource id of
// typ, in the tenant's next ring slot, evicting the tombstone the slot held.
func (s *Store) putTombstone(txn *writeTxn, tenant, typ, id, digest string) error {
	n, err := readCounter(txn.kv, deletedNextKey(tenant))
	if err != nil {
		return err
	}
	slot := uint32(n % int64(s.tombstones))
	ring := deletedRingKey(tenant, slot)
	old, found, err := getValue(txn.kv, ring)
	if err != nil {
		return err
	}
	if found {
		otyp, rest, ok1 := readStr(old)
		oid, _, ok2 := readStr(rest)
		if !ok1 || !ok2 {
			return skipWith(reasonBadState) // a slot this code never writes
		}
		oldKey := deletedKey(tenant, otyp, oid)
		v, found, err := getValue(txn.kv, oldKey)
		if err != nil {
			return err
		}
		// The resource may have been deleted again since (a log can hold
		// anything); then its tombstone belongs to a later slot.
		if found && len(v) >= 4 && binary.BigEndian.Uint32(v) == slot {
			if err := txn.Delete(oldKey); err != nil {
				return err
			}
		}
	}
	if err := txn.Set(ring, appendStr(appendStr(nil, typ), id)); err != nil {
		return err
	}
	if err := txn.Set(deletedKey(tenant, typ, id), append(appendU32(nil, slot), digest...)); err != nil {
		return err
	}
	return txn.Set(deletedNextKey(tenant), appendI64(nil, n+1))
}

// CreatedBy returns the id of the tenant's resource that the POST with
// request digest digest created, as long as nothing has changed that
// resource since (found is false otherwise, and for digests of no POST).
func (s *Store) CreatedBy(ctx context.Context, tenant, digest string) (id string, found bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	var v []byte
	err = s.db.View(func(txn *badger.Txn) error {
		v, found, err = getValue(badgerReader{txn}, createdByKey(tenant, digest))
		return err
	})
	return string(v), found && err == nil, err
}

// DeletedBy returns the request digest of the DELETE that deleted the
// tenant's resource id of resourceType, if that is among the tenant's last
// 10,000 deletions (found is false otherwise, and for deletions by events
// without a digest).
func (s *Store) DeletedBy(ctx context.Context, tenant, resourceType, id string) (digest string, found bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	typ := canonicalType(resourceType)
	var v []byte
	err = s.db.View(func(txn *badger.Txn) error {
		v, found, err = getValue(badgerReader{txn}, deletedKey(tenant, typ, id))
		return err
	})
	if err != nil || !found || len(v) < 4 {
		return "", false, err
	}
	return string(v[4:]), true, nil
}
