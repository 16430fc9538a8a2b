package projection

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

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
	Epoch         int64  `json:"epoch,omitempty"`      // of the event or claim
	ClaimEpoch    int64  `json:"claimEpoch,omitempty"` // void: the epoch of the claim in force
}

// Apply applies one record: state, indexes and the partition's applied
// position in one Badger transaction. A record below the applied position is
// skipped (idempotent replay). An event that cannot apply is not applied: it
// is recorded under the skipped prefix and counted, and the position
// advances past it in the same transaction. That covers an event that is
// void (older than the claim in force, see fence.go), malformed, a
// duplicate (its ce_id or version already applied), whose PrevVersion does
// not match the stored version, whose writes break the projection's limits
// (see limits.go) or that applying cannot handle at all. A claim record
// applies as the partition's new fence, or is skipped as void.
//
// Apply is deterministic: it reads no clock and no randomness, so the same
// log yields the same bytes, and whether a record is skipped depends on the
// record and the stored state only. Calls for one partition are serialised;
// call it in offset order. Member deltas and group deletes larger than one
// transaction span several (see the package doc). It returns an error only
// when Badger fails, and then the record was not applied (or, for a group
// delete, applied with part of its cleanup left for the next call or Open).
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
	var ce *cleanupError
	if err != nil && !errors.As(err, &ce) {
		return fmt.Errorf("apply %s %s/%s at %d/%d: %w", clip(rec.Event.Type), clip(rec.Event.ResourceType),
			clip(rec.Event.ResourceID), rec.Partition, rec.Offset, err)
	}
	if reason == reasonVoid {
		s.mu.Lock()
		s.noteVoidLocked(rec.Partition, rec.Offset)
		s.mu.Unlock()
	}
	s.setApplied(rec.Partition, rec.Offset+1, rec.Event.Time)
	s.reportApplied(&rec, reason, time.Since(start))
	return err
}

// cleanupError is a group delete's cleanup failing after the delete
// committed: the record is applied, its leftover members are not yet gone
// (cleanupAll finishes them).
type cleanupError struct {
	partition       int
	tenant, groupID string
	err             error
}

func (e *cleanupError) Error() string { return "clean up deleted group: " + e.err.Error() }
func (e *cleanupError) Unwrap() error { return e.err }

// apply does the transactions of one record and returns the skip reason,
// or "" when the event was applied.
func (s *Store) apply(rec events.Record) (string, error) {
	ev := &rec.Event
	typ := canonicalType(ev.ResourceType)
	f := s.fenceOf(rec.Partition)
	reason := precheck(&rec, f)

	// A large member delta is written in batches before the final
	// transaction; each batch is idempotent and the position only moves in
	// the last one, so a crash in between replays the record and converges.
	ops := memberOps(ev)
	if reason == "" && len(ops) > s.memberBatch {
		r, err := s.applyMembers(ev, typ, ops)
		if err != nil {
			return "", err
		}
		reason, ops = r, nil
	}
	reason, deleted, err := s.applyAlone(rec, reason, ops, &f)
	if errors.Is(err, errOwnTxns) {
		// Within the count of one batch, but too large for one
		// transaction (long displays): batches of its own after all.
		var r string
		if r, err = s.applyMembers(ev, typ, ops); err == nil {
			reason, deleted, err = s.applyAlone(rec, r, nil, &f)
		}
	}
	if err != nil {
		return "", err
	}
	s.setFence(rec.Partition, f)
	if deleted {
		if err := s.cleanup(ev.Tenant, ev.ResourceID); err != nil {
			return reason, &cleanupError{partition: rec.Partition, tenant: ev.Tenant, groupID: ev.ResourceID, err: err}
		}
	}
	return reason, nil
}

// applyMembers writes the member changes of a delta in transactions of
// their own, as many as Options.MemberBatch and half a record's budget
// allow each, leaving the version bump and the position to the final
// transaction. It writes nothing when the event will be skipped for its
// versions (the final transaction finds that again); a limit broken on the
// way is returned as the reason to skip the record.
func (s *Store) applyMembers(ev *events.Event, typ string, ops []memberOp) (string, error) {
	var cur *record
	err := s.kv.view(func(txn kvReader) error {
		var err error
		cur, err = loadRecord(txn, resourceKey(ev.Tenant, typ, ev.ResourceID))
		return err
	})
	if errors.Is(err, errBadState) {
		return reasonBadState, nil
	}
	if err != nil {
		return "", err
	}
	if verdict(ev, cur) != "" {
		return "", nil
	}
	for len(ops) > 0 {
		t := s.newWriteTxn()
		n, err := applyMemberOps(t, ev.Tenant, ev.ResourceID, ops, s.memberBatch)
		if err == nil {
			err = s.commit(t)
		}
		t.Discard()
		if r := skipReason(err); r != "" {
			return r, nil
		}
		if err != nil {
			return "", fmt.Errorf("apply member batch: %w", err)
		}
		ops = ops[n:]
	}
	return "", nil
}

// applyAlone applies rec in one transaction with the partition's position
// after it, reason being why it must be skipped if already known, and *f
// the partition's fence, which it moves once a claim that moves it has
// committed. When applying finds a reason to skip it, the transaction is
// dropped and another records the skip instead. It reports whether a group
// delete left members behind a tombstone, and errOwnTxns for a member
// delta that does not fit.
func (s *Store) applyAlone(rec events.Record, reason string, ops []memberOp, f *events.Fence) (string, bool, error) {
	t := s.newWriteTxn()
	defer t.Discard()
	if err := t.Set(posKey(rec.Partition), appendI64(nil, rec.Offset+1)); err != nil {
		return "", false, err
	}
	t.mark()
	next := *f
	reason, deleted, err := s.applyRecord(t, &rec, reason, ops, &next)
	if r := skipReason(err); r != "" {
		t.Discard()
		var v *verdictError
		if errors.As(err, &v) && v.panic != "" {
			// A bug: say where, once, with what the panic says (never
			// an attribute value) and the stack.
			s.logger.Error("applying an event panicked", "panic", clip(v.panic), "partition", rec.Partition,
				"offset", rec.Offset, "stack", string(v.stack))
		}
		return r, false, s.skipAlone(rec, r)
	}
	if err != nil {
		return "", false, err
	}
	if err := s.commit(t); err != nil {
		return "", false, err
	}
	s.written.add(t.kept)
	*f = next
	return reason, deleted, nil
}

// skipAlone records rec as skipped for reason and moves the position past
// it, in a transaction of its own.
func (s *Store) skipAlone(rec events.Record, reason string) error {
	t := s.newWriteTxn()
	defer t.Discard()
	if err := t.Set(posKey(rec.Partition), appendI64(nil, rec.Offset+1)); err != nil {
		return err
	}
	t.mark()
	ev := &rec.Event
	var cur *record
	if typ := canonicalType(ev.ResourceType); typ != "" && ev.ResourceID != "" &&
		len(ev.Tenant) <= maxIDBytes && len(ev.ResourceID) <= maxIDBytes {
		var err error
		cur, err = loadRecord(t.kv, t.keys.resourceKey(ev.Tenant, typ, ev.ResourceID))
		if err != nil && !errors.Is(err, errBadState) {
			return err
		}
	}
	if err := putSkip(t, rec, reason, cur, events.Fence{}); err != nil {
		return err
	}
	return s.commit(t)
}

// applyRecord writes one record into t: its state change and indexes (for
// a claim, the fence it moves *f to), or, with reason set or found, its
// skip record; *f is the partition's fence before rec. It returns the skip
// reason ("" when applied) and whether a group delete left members behind
// a tombstone. Errors carrying a skip reason (see skipReason) mean t holds
// part of the record and must be dropped; so does errOwnTxns. A panic is
// such an error too: applying must never stop on an event.
func (s *Store) applyRecord(t *writeTxn, rec *events.Record, reason string, ops []memberOp, f *events.Fence) (skipped string, deleted bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			skipped, deleted = "", false
			err = &verdictError{reason: reasonPanic, panic: fmt.Sprint(p), stack: debug.Stack()}
		}
	}()
	if s.beforeApply != nil {
		s.beforeApply(rec)
	}
	if reason == "" && rec.Claim != nil {
		return "", false, applyClaim(t, rec.Partition, f, rec.Claim)
	}
	ev := &rec.Event
	typ := canonicalType(ev.ResourceType)
	var cur *record
	if reason == "" {
		cur, err = loadRecord(t.kv, t.keys.resourceKey(ev.Tenant, typ, ev.ResourceID))
		if err != nil {
			return "", false, err
		}
		reason = verdict(ev, cur)
	}
	if reason != "" {
		return reason, false, putSkip(t, *rec, reason, cur, *f)
	}
	t.put = nil
	deleted, err = s.applyEvent(t, ev, rec.ResourceJSON(), typ, cur, ops)
	if err == nil {
		t.keepApplied(rec.Partition, rec.Offset)
	}
	return "", deleted, err
}

// skipReason returns the reason to skip a record that err carries: a limit
// it breaks (verdictError) or stored state that does not decode. "" for
// anything else, which is a Badger failure to retry.
func skipReason(err error) string {
	if errors.Is(err, errBadState) {
		return reasonBadState
	}
	return verdictOf(err)
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
	case cur == nil && changesExisting(ev.Type):
		return reasonNotFound
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

// changesExisting reports whether events of type typ change a resource
// that must exist: deletes and member deltas (the others carry the whole
// resource).
func changesExisting(typ string) bool {
	switch typ {
	case events.UserDeleted, events.GroupDeleted, events.GroupMembersAdded, events.GroupMembersRemoved:
		return true
	}
	return false
}

// putSkip records why rec was skipped; f is the partition's fence before
// it, named for a void record. Its strings are clipped: the event may have
// been skipped for their size.
func putSkip(txn *writeTxn, rec events.Record, reason string, cur *record, f events.Fence) error {
	ev := &rec.Event
	sr := skipRecord{
		Reason: reason, EventID: clip(ev.ID), Type: clip(ev.Type), Tenant: clip(ev.Tenant),
		ResourceType: clip(ev.ResourceType), ResourceID: clip(ev.ResourceID),
		Version: ev.Version, PrevVersion: ev.PrevVersion, Epoch: ev.Epoch,
	}
	if c := rec.Claim; c != nil {
		sr.EventID, sr.Type, sr.Epoch = c.ID, events.PartitionClaimed, c.Epoch
	}
	if reason == reasonVoid {
		sr.ClaimEpoch = f.Epoch
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

// applyEvent writes a valid, in-order event; resourceJSON is the text its
// resource was decoded from, if known. It reports whether a group delete
// left member entries behind a tombstone.
func (s *Store) applyEvent(txn *writeTxn, ev *events.Event, resourceJSON string, typ string, cur *record, ops []memberOp) (bool, error) {
	if again, err := s.trackRequest(txn, ev, typ, cur); err != nil || again {
		return false, err // again: a POST that landed twice (request.go)
	}
	at := ev.Time.UTC()
	switch ev.Type {
	case events.UserDeleted, events.GroupDeleted:
		return s.deleteResource(txn, ev.Tenant, typ, ev.ResourceID, cur)
	case events.GroupMembersAdded, events.GroupMembersRemoved:
		n, err := applyMemberOps(txn, ev.Tenant, ev.ResourceID, ops, len(ops))
		if err != nil {
			return false, err
		}
		if n < len(ops) {
			return false, errOwnTxns
		}
		next := *cur
		next.Version, next.LastModified, next.EventID, next.RequestDigest = ev.Version, at, ev.ID, ev.RequestDigest
		return false, putRecord(txn, ev.Tenant, typ, ev.ResourceID, cur, &next)
	}
	// created, updated, deactivated, reactivated: the full post-image.
	next := &record{Resource: withoutMembers(ev.Resource), Version: ev.Version, Created: at, LastModified: at, EventID: ev.ID,
		RequestDigest: ev.RequestDigest}
	if _, members := ev.Resource["members"]; !members {
		next.resourceJSON = resourceJSON // else not the text of next.Resource
	}
	if cur != nil {
		next.Created = cur.Created
	}
	return false, putRecord(txn, ev.Tenant, typ, ev.ResourceID, cur, next)
}

// putRecord writes next over cur (nil when new): the record, the index keys
// that changed, and the type's counter.
func putRecord(txn *writeTxn, tenant, typ, id string, cur, next *record) (err error) {
	v, end, err := encodeRecordAt(next)
	if err != nil {
		return skipWith(reasonInvalid) // a time or value JSON cannot hold
	}
	txn.keepPut(tenant, typ, id, next, v, end)
	newKeys := indexKeys(&txn.keys, tenant, typ, id, next)
	nextName := foldedUserName(next)
	if len(newKeys)+userNameEntries(nextName) > maxIndexKeys {
		return skipWith(reasonTooManyValues)
	}
	if err := txn.Set(txn.keys.resourceKey(tenant, typ, id), v); err != nil {
		return err
	}
	if typ == typeUser {
		curName := foldedUserName(cur)
		if nextName != curName && nextName != "" && userNameEntrySize(tenant, nextName, id) > maxKeyBytes {
			return skipWith(reasonKeyTooLarge) // as an index key of that size is
		}
		defer func() {
			if err == nil {
				err = syncUserNameKey(txn, tenant, id, curName, nextName)
			}
		}()
	}
	if cur == nil {
		if err := addCounter(txn, txn.keys.countKey(tenant, typ), 1); err != nil {
			return err
		}
		return setAll(txn, newKeys)
	}
	oldKeys := indexKeys(&txn.keys, tenant, typ, id, cur)
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

func setAll(txn *writeTxn, keys [][]byte) error {
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
func (s *Store) deleteResource(txn *writeTxn, tenant, typ, id string, cur *record) (bool, error) {
	if err := txn.Delete(txn.keys.resourceKey(tenant, typ, id)); err != nil {
		return false, err
	}
	for _, k := range indexKeys(&txn.keys, tenant, typ, id, cur) {
		if err := txn.Delete(k); err != nil {
			return false, err
		}
	}
	if typ == typeUser {
		if err := syncUserNameKey(txn, tenant, id, foldedUserName(cur), ""); err != nil {
			return false, err
		}
	}
	if err := addCounter(txn, txn.keys.countKey(tenant, typ), -1); err != nil {
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
func addCounter(txn *writeTxn, key []byte, d int64) error {
	n, err := readCounter(txn.kv, key)
	if err != nil {
		return err
	}
	n += d
	if n <= 0 {
		return txn.Delete(key)
	}
	return txn.Set(key, appendI64(txn.keys.alloc(8), n))
}

func readCounter(txn kvReader, key []byte) (int64, error) {
	v, _, err := txn.value(nil, key)
	return decodeI64(v), err
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

// userNameEntries is the number of userName entries of a user whose
// folded userName is folded: 1, or 0 for none.
func userNameEntries(folded string) int {
	if folded == "" {
		return 0
	}
	return 1
}

// syncUserNameKey keeps the userName keys (userNameHolders) in step with
// user id's userName going from old to next (folded; "" for none): id
// leaves the holders of old and joins those of next. The bridge keeps
// userNames unique, so a userName has one holder; should a log ever hold
// two users with one userName, the key names first the first claimant
// still holding it, so applying stays deterministic.
//
// It also tells the userName hints (hints.go) who holds next, and which
// userNames two users claim: those are never hinted, since userName eq
// answers with only one of them. A hint set for a write that then does
// not commit is harmless: a hint is checked against the record before it
// is used.
func syncUserNameKey(txn *writeTxn, tenant, id, old, next string) error {
	if old == next {
		txn.hints.put(tenant, next, id) // a replace or patch keeping it: the hint may have been evicted
		return nil
	}
	if old != "" {
		if err := dropHolder(txn, tenant, id, old); err != nil {
			return err
		}
	}
	if next != "" {
		return addHolder(txn, tenant, id, next)
	}
	return nil
}

// dropHolder takes user id off the holders of the userName folded. When
// id was the holder, the claimant of least id left (listed next) takes
// its place.
func dropHolder(txn *writeTxn, tenant, id, folded string) error {
	k := txn.keys.userNameKey(tenant, folded)
	if !txn.filter.mayHave(k) {
		return nil // no one holds it
	}
	v, found, err := getValue(txn.kv, k)
	if err != nil || !found {
		return err
	}
	h, err := decodeUserNameHolders(v)
	if err != nil {
		return err
	}
	if h[0] != id {
		txn.hints.markDup(tenant, folded)
	}
	i := slices.Index(h, id)
	switch {
	case i < 0:
		return nil
	case len(h) == 1:
		return txn.Delete(k)
	}
	return txn.Set(k, slices.Delete(h, i, i+1).encode(&txn.keys))
}

// addHolder adds user id to the holders of the userName folded: the
// holder if it has none, else among the others in byte order.
func addHolder(txn *writeTxn, tenant, id, folded string) error {
	k := txn.keys.userNameKey(tenant, folded)
	var v []byte
	found := false
	if txn.filter.mayHave(k) { // else no one holds it: no read
		var err error
		if v, found, err = getValue(txn.kv, k); err != nil {
			return err
		}
	}
	if !found {
		txn.hints.put(tenant, folded, id)
		txn.filter.add(k)
		return txn.Set(k, userNameHolders{id}.encode(&txn.keys))
	}
	h, err := decodeUserNameHolders(v)
	if err != nil || h[0] == id {
		return err
	}
	txn.hints.markDup(tenant, folded)
	i, listed := slices.BinarySearch(h[1:], id)
	if listed {
		return nil
	}
	return txn.Set(k, slices.Insert(h, 1+i, id).encode(&txn.keys))
}
