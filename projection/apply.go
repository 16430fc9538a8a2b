package projection

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// skipRecord is the value under a skipped key: why a record was not applied.
type skipRecord struct {
	Reason        string `json:"reason"`
	EventID       string `json:"eventId,omitempty"`
	Type          string `json:"type"`
	Tenant        string `json:"tenant"`
	ResourceType  string `json:"resourceType"`
	ResourceID    string `json:"id"`
	Version       int64  `json:"version"`
	PrevVersion   int64  `json:"prevVersion"`
	StoredVersion int64  `json:"storedVersion"`
}

// Apply applies one record: state, indexes and the partition's applied
// position in one Badger transaction. A record below the applied position is
// skipped (idempotent replay). An event that is malformed, a duplicate (its
// ce_id or version already applied) or whose PrevVersion does not match the
// stored version is not applied: it is recorded under the skipped prefix and
// counted, and the position advances past it in the same transaction.
//
// Apply is deterministic: it reads no clock and no randomness, so the same
// log yields the same bytes. Calls for one partition are serialised; call it
// in offset order. Member deltas and group deletes larger than
// Options.MemberBatch span several transactions (see the package doc).
// It returns an error only when Badger fails; the record was then not applied.
func (s *Store) Apply(rec events.Record) error {
	if rec.Partition < 0 || rec.Offset < 0 {
		return fmt.Errorf("apply record at %d/%d: negative position", rec.Partition, rec.Offset)
	}
	mu := s.partitionLock(rec.Partition)
	mu.Lock()
	defer mu.Unlock()
	return s.applyLocked(rec)
}

// applyLocked is Apply with the partition's lock held.
func (s *Store) applyLocked(rec events.Record) error {
	s.mu.Lock()
	var next int64
	if rec.Partition < len(s.applied) {
		next = s.applied[rec.Partition]
	}
	s.mu.Unlock()
	if rec.Offset < next {
		s.m.skipped.WithLabelValues(reasonReplay).Inc()
		return nil
	}

	start := time.Now()
	reason, err := s.apply(rec)
	if err != nil {
		return fmt.Errorf("apply %s %s/%s at %d/%d: %w", rec.Event.Type, rec.Event.ResourceType,
			rec.Event.ResourceID, rec.Partition, rec.Offset, err)
	}
	s.setApplied(rec.Partition, rec.Offset+1, rec.Event.Time)
	s.reportApplied(&rec, reason, time.Since(start))
	return nil
}

// apply does the transactions of one record and returns the skip reason,
// or "" when the event was applied.
func (s *Store) apply(rec events.Record) (string, error) {
	ev := &rec.Event
	typ := canonicalType(ev.ResourceType)
	reason := validate(ev, typ)

	// A large member delta is written in batches before the final
	// transaction; each batch is idempotent and the position only moves in
	// the last one, so a crash in between replays the record and converges.
	ops := memberOps(ev)
	if reason == "" && len(ops) > s.memberBatch {
		var cur *record
		err := s.db.View(func(txn *badger.Txn) error {
			var err error
			cur, err = loadRecord(txn, resourceKey(ev.Tenant, typ, ev.ResourceID))
			return err
		})
		if err != nil {
			return "", err
		}
		if verdict(ev, cur) == "" {
			for len(ops) > s.memberBatch {
				batch := ops[:s.memberBatch]
				err := s.update(func(txn *badger.Txn) error {
					return applyMemberOps(txn, ev.Tenant, ev.ResourceID, batch)
				})
				if err != nil {
					return "", fmt.Errorf("apply member batch: %w", err)
				}
				ops = ops[s.memberBatch:]
			}
		}
	}

	var deleted bool // a group delete left members to clean up
	err := s.update(func(txn *badger.Txn) error {
		deleted = false
		if err := txn.Set(posKey(rec.Partition), appendI64(nil, rec.Offset+1)); err != nil {
			return err
		}
		var cur *record
		if reason == "" {
			var err error
			cur, err = loadRecord(txn, resourceKey(ev.Tenant, typ, ev.ResourceID))
			if err != nil {
				return err
			}
			reason = verdict(ev, cur)
		}
		if reason != "" {
			return putSkip(txn, rec, reason, cur)
		}
		var err error
		deleted, err = s.applyEvent(txn, ev, typ, cur, ops)
		return err
	})
	if err != nil {
		return "", err
	}
	if deleted {
		if err := s.cleanup(ev.Tenant, ev.ResourceID); err != nil {
			return "", fmt.Errorf("clean up deleted group: %w", err)
		}
	}
	return reason, nil
}

// validate returns reasonInvalid or reasonUnknownType for an event that can
// never apply, else "".
func validate(ev *events.Event, typ string) string {
	var want string
	needsResource := false
	switch ev.Type {
	case events.UserCreated, events.UserUpdated, events.UserDeactivated, events.UserReactivated:
		want, needsResource = typeUser, true
	case events.UserDeleted:
		want = typeUser
	case events.GroupCreated, events.GroupUpdated:
		want, needsResource = typeGroup, true
	case events.GroupDeleted, events.GroupMembersAdded, events.GroupMembersRemoved:
		want = typeGroup
	default:
		return reasonUnknownType
	}
	switch {
	case typ != want, ev.Tenant == "", ev.ResourceID == "", ev.Version <= ev.PrevVersion:
		return reasonInvalid
	case needsResource && ev.Resource == nil:
		return reasonInvalid
	case needsResource && ev.Resource.ID() != "" && ev.Resource.ID() != ev.ResourceID:
		return reasonInvalid
	}
	return ""
}

// verdict compares an event's versions with the stored resource (nil when
// absent) and returns why it must not apply, or "".
func verdict(ev *events.Event, cur *record) string {
	switch {
	case cur != nil && ev.ID != "" && ev.ID == cur.EventID:
		return reasonDuplicate
	case cur != nil && ev.Version <= cur.Version:
		return reasonDuplicate
	case cur == nil && ev.PrevVersion != 0:
		return reasonNotFound
	case cur != nil && ev.PrevVersion != cur.Version:
		return reasonVersionMismatch
	}
	return ""
}

func putSkip(txn *badger.Txn, rec events.Record, reason string, cur *record) error {
	ev := &rec.Event
	sr := skipRecord{
		Reason: reason, EventID: ev.ID, Type: ev.Type, Tenant: ev.Tenant,
		ResourceType: ev.ResourceType, ResourceID: ev.ResourceID,
		Version: ev.Version, PrevVersion: ev.PrevVersion,
	}
	if cur != nil {
		sr.StoredVersion = cur.Version
	}
	v, err := json.Marshal(sr)
	if err != nil {
		return err
	}
	return txn.Set(skipKey(rec.Partition, rec.Offset), v)
}

// applyEvent writes a valid, in-order event. It reports whether a group
// delete left member entries behind a tombstone.
func (s *Store) applyEvent(txn *badger.Txn, ev *events.Event, typ string, cur *record, ops []memberOp) (bool, error) {
	if again, err := s.trackRequest(txn, ev, typ, cur); err != nil || again {
		return false, err // again: a POST that landed twice (request.go)
	}
	at := ev.Time.UTC()
	switch ev.Type {
	case events.UserDeleted, events.GroupDeleted:
		return s.deleteResource(txn, ev.Tenant, typ, ev.ResourceID, cur)
	case events.GroupMembersAdded, events.GroupMembersRemoved:
		if err := applyMemberOps(txn, ev.Tenant, ev.ResourceID, ops); err != nil {
			return false, err
		}
		next := *cur
		next.Version, next.LastModified, next.EventID, next.RequestDigest = ev.Version, at, ev.ID, ev.RequestDigest
		return false, putRecord(txn, ev.Tenant, typ, ev.ResourceID, cur, &next)
	}
	// created, updated, deactivated, reactivated: the full post-image.
	next := &record{Resource: withoutMembers(ev.Resource), Version: ev.Version, Created: at, LastModified: at, EventID: ev.ID,
		RequestDigest: ev.RequestDigest}
	if cur != nil {
		next.Created = cur.Created
	}
	return false, putRecord(txn, ev.Tenant, typ, ev.ResourceID, cur, next)
}

// putRecord writes next over cur (nil when new): the record, the index keys
// that changed, and the type's counter.
func putRecord(txn *badger.Txn, tenant, typ, id string, cur, next *record) (err error) {
	v, err := encodeRecord(next)
	if err != nil {
		return fmt.Errorf("encode resource: %w", err)
	}
	if err := txn.Set(resourceKey(tenant, typ, id), v); err != nil {
		return err
	}
	if typ == typeUser {
		defer func() {
			if err == nil {
				err = syncUserNameKey(txn, tenant, id, foldedUserName(cur), foldedUserName(next))
			}
		}()
	}
	newKeys := indexKeys(tenant, typ, id, next)
	if cur == nil {
		if err := addCounter(txn, countKey(tenant, typ), 1); err != nil {
			return err
		}
		return setAll(txn, newKeys)
	}
	oldKeys := indexKeys(tenant, typ, id, cur)
	added := make(map[string]bool, len(newKeys))
	for _, k := range newKeys {
		added[string(k)] = true
	}
	for _, k := range oldKeys {
		if slices.ContainsFunc(newKeys, func(n []byte) bool { return bytes.Equal(n, k) }) {
			added[string(k)] = false // present before and after: nothing to write
			continue
		}
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	for _, k := range newKeys {
		if added[string(k)] {
			added[string(k)] = false
			if err := txn.Set(k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func setAll(txn *badger.Txn, keys [][]byte) error {
	for _, k := range keys {
		if err := txn.Set(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// deleteResource removes a resource, its index keys, its memberships as a
// member, and for a group its own members: inline when there are at most
// MemberBatch of them, else the first batch now and a tombstone for the rest
// (see cleanup). It reports whether a tombstone was written.
func (s *Store) deleteResource(txn *badger.Txn, tenant, typ, id string, cur *record) (bool, error) {
	if err := txn.Delete(resourceKey(tenant, typ, id)); err != nil {
		return false, err
	}
	for _, k := range indexKeys(tenant, typ, id, cur) {
		if err := txn.Delete(k); err != nil {
			return false, err
		}
	}
	if typ == typeUser {
		if err := syncUserNameKey(txn, tenant, id, foldedUserName(cur), ""); err != nil {
			return false, err
		}
	}
	if err := addCounter(txn, countKey(tenant, typ), -1); err != nil {
		return false, err
	}
	if err := removeFromAllGroups(txn, tenant, id); err != nil {
		return false, err
	}
	if typ != typeGroup {
		return false, nil
	}
	if err := txn.Delete(memberCountKey(tenant, id)); err != nil {
		return false, err
	}
	more, err := dropMembers(txn, tenant, id, s.memberBatch)
	if err != nil || !more {
		return false, err
	}
	return true, txn.Set(tombstoneKey(tenant, id), nil)
}

// addCounter adds d to the int64 counter at key, deleting it at zero so an
// emptied tenant leaves no keys behind.
func addCounter(txn *badger.Txn, key []byte, d int64) error {
	n, err := readCounter(txn, key)
	if err != nil {
		return err
	}
	n += d
	if n <= 0 {
		return txn.Delete(key)
	}
	return txn.Set(key, appendI64(nil, n))
}

func readCounter(txn *badger.Txn, key []byte) (int64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n int64
	err = item.Value(func(v []byte) error { n = decodeI64(v); return nil })
	return n, err
}

// memberOp is one membership change of a member delta.
type memberOp struct {
	remove bool
	m      schemas.Member
}

// memberOps flattens an event's member deltas: removals first, then
// additions.
func memberOps(ev *events.Event) []memberOp {
	if ev.Type != events.GroupMembersAdded && ev.Type != events.GroupMembersRemoved {
		return nil
	}
	ops := make([]memberOp, 0, len(ev.MembersRemoved)+len(ev.MembersAdded))
	for _, m := range ev.MembersRemoved {
		ops = append(ops, memberOp{remove: true, m: m})
	}
	for _, m := range ev.MembersAdded {
		ops = append(ops, memberOp{m: m})
	}
	return ops
}

// foldedUserName is the userName of a user record as the indexes hold it,
// "" for none.
func foldedUserName(r *record) string {
	if r == nil {
		return ""
	}
	un, _ := r.Resource["userName"].(string)
	return fold(un)
}

// syncUserNameKey keeps the point key of userName eq lookups (nsUserNameID:
// fold(userName) -> id) in step with a user's userName going from old to
// next (folded; "" for none). It runs after the u index is updated. The
// bridge keeps userNames unique, so there is one claimant; should a log ever
// hold two users with one userName, the key names the first claimant still
// holding it, so applying stays deterministic.
func syncUserNameKey(txn *badger.Txn, tenant, id, old, next string) error {
	if old == next {
		return nil
	}
	if old != "" {
		k := userNameIDKey(tenant, old)
		v, found, err := getValue(txn, k)
		if err != nil {
			return err
		}
		if found && string(v) == id {
			rest, err := keysUnder(txn, userNamePrefix(tenant, old), 1)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				err = txn.Set(k, []byte(rest[0]))
			} else {
				err = txn.Delete(k)
			}
			if err != nil {
				return err
			}
		}
	}
	if next != "" {
		k := userNameIDKey(tenant, next)
		_, found, err := getValue(txn, k)
		if err != nil {
			return err
		}
		if !found {
			return txn.Set(k, []byte(id))
		}
	}
	return nil
}
