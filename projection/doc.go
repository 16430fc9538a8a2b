// Package projection is the read model of scim-bridge: it applies the domain
// events of an [events.Log] to a Badger database and answers SCIM reads
// (RFC 7644 §3.4) from it: resources by id, filtered, sorted and paginated
// lists, group memberships both ways. It owns the key layout, applying
// events deterministically, the secondary indexes, filter planning, and the
// applied position per log partition, committed in the same transaction as
// the state it produced.
//
// It imports schemas and events only. It must not be imported by schemas or
// events, and it does not know kafka-go or HTTP: it consumes an events.Log.
//
// # Key layout
//
// str(s) is s escaped (0x00 as 0x00 0xFF) and terminated by 0x00 0x01, so
// components sort like the strings and never prefix one another; u32 and
// i64 are big-endian; t64 is Unix nanoseconds with the sign bit flipped, so
// it sorts like instants; fold(s) replaces every rune by the least rune of
// its Unicode simple-folding orbit (ASCII lower-cased), so fold(a) ==
// fold(b) exactly when the filter evaluator calls a and b equal ignoring
// case, and case-insensitive eq and sw plans need no re-check. Types are
// "User" and "Group".
//
//	F                                      -> format version (formatVersion)
//	P u32(partition)                       -> i64(next offset to apply)
//	S u32(partition) i64(offset)           -> JSON why the record was skipped
//	C u32(partition)                       -> JSON {epoch, owner}: the claim in force (absent: none)
//	Z str(tenant) str(groupID)             -> "" (deleted group, members being cleaned)
//	t str(tenant) r str(type) str(id)      -> JSON {resource, version, created, lastModified, eventId, requestDigest}
//	t str(tenant) c str(type)              -> i64(number of resources of the type)
//	t str(tenant) n str(fold(userName))           -> str(id)...  User userName: its holders, the one userName eq answers first
//	t str(tenant) o str(memberID)                 -> i64(n) [str(groupID)...]  memberID's groups (absent: none)
//	t str(tenant) x str(type) str(externalId) str(id)       externalId per type
//	t str(tenant) e str(fold(emails.value)) str(id)          User emails
//	t str(tenant) d str(fold(displayName)) str(id)           Group displayName
//	t str(tenant) m str(type) t64(lastModified) str(id)      meta.lastModified
//	t str(tenant) g str(groupID) str(memberID) -> str(member type) display
//	t str(tenant) h str(memberID) str(groupID) -> ""         User.groups is derived from these
//	t str(tenant) k str(groupID)               -> i64(number of members)
//	t str(tenant) q str(digest)                -> id      the resource a POST created, while unchanged
//	t str(tenant) y str(type) str(id)          -> u32(slot) digest   a recent DELETE (tombstone)
//	t str(tenant) w u32(slot)                  -> str(type) str(id)  the tenant's ring of tombstones
//	t str(tenant) v                            -> i64(tombstones written)
//
// The o value counts memberID's h entries and, when there are at most
// maxInlineGroups of them, lists their group ids in order, so User.groups
// is one point read for all but members of very many groups.
//
// The q, y, w and v keys let the bridge recognise a retried request (see
// request.go): at most one q key per resource, and per tenant a ring of the
// last 10,000 deletions. A created event whose requestDigest is that of the
// POST of another resource, unchanged since, is the same POST landed twice
// and changes nothing.
//
// Index values are empty unless shown. Index keys end in the id, so several
// resources may share a value and a lookup is one prefix seek yielding ids in
// order; a userName, which the bridge keeps unique, has one key instead,
// whose value lists its holders (userNameHolders): one key per user rather
// than two. Counters at zero are deleted, so an emptied tenant leaves no keys
// but its tombstones.
// Adding or removing one member of a group writes its two membership keys,
// the member count and the group record: O(1) in the group's size.
//
// # Applying
//
// Apply is deterministic (no clock, no randomness; times come from the
// events, JSON marshals map keys sorted), so the same log yields the same
// bytes, which Export exposes for comparison. A record's state change and
// index changes commit in one transaction with the partition's position
// after it; when Run has a backlog, consecutive records of a partition share
// the transaction (up to Options.ApplyBatch, fewer when Badger's transaction
// limits are reached), which then moves the position past the last of them.
// Later records of a batch read the writes of earlier ones, so a batched
// replay writes exactly the bytes of applying one record at a time, and a
// crash leaves the position at a record boundary matching the state. A
// record below the position is a replay and is ignored (counted with
// reason "replay", never recorded, so replays change no bytes). An event whose
// PrevVersion differs from the stored version, whose version or ce_id was
// already applied, or that is malformed, is not applied: a key under S
// records it, scim_projection_skipped_events_total counts it, and the
// position still moves past it in the same transaction.
//
// Claims fence writers off (fence.go, events.Fence): each partition's
// claim in force is kept under C and moves in the transaction of the claim
// that moves it, so a restart resumes with the claim that goes with its
// position. A write event older than the claim in force, and a claim that
// does not take effect, are void: skipped with reason "void" before
// anything else is judged about them, and WaitApplied answers ErrVoid for
// them, so a writer learns that its write did not happen.
//
// No event stops the projection. One that would write a key or a value
// over Badger's limits, more index entries than a resource may have, more
// than one transaction can hold, or that changes stored state which does
// not decode, or makes applying panic, is skipped the same way (reasons
// key_too_large, value_too_large, too_many_values, txn_too_big, bad_state,
// panic; see limits.go). Every write of applying goes through a writeTxn,
// which checks it against fixed limits and counts it against the record's
// own budget before Badger sees it, so the verdict depends on the event and
// the state only, never on what else shares the transaction: a record
// found wanting in a batch is redone alone, with the same result. Badger's
// own failures are not verdicts: Run retries them.
//
// Badger bounds a transaction's size, so work proportional to a group's
// size is split, with at most Options.MemberBatch entries and half a
// record's budget per transaction; such a record (and every group delete)
// ends the running batch and is applied on its own:
//
//   - A member delta larger than a batch writes its changes in their own
//     transactions before the last one, which bumps the group's version
//     and moves the position. Membership writes are idempotent (add
//     if absent, remove if present, counts follow), so a crash in between
//     replays the record from the unmoved position and converges. Readers
//     may briefly see part of such a delta; a writer waiting for the
//     position never does.
//   - Deleting a group removes its record, indexes, counter and its own
//     memberships in other groups, plus up to one batch of its members, in
//     the transaction that moves the position. If members remain, the same
//     transaction writes a Z tombstone; Apply then deletes the rest in
//     batches and finally the tombstone before returning, and Open finishes
//     any tombstone a crash left. Reads ignore leftovers: they belong to a
//     group whose record is gone.
//
// Writes are not synced: the log is the source of truth and the position
// commits with the state, so a transaction lost in a crash is applied again.
//
// # Consuming
//
// Run reads every partition of the log from its applied position, one
// goroutine each, decoding records onto a queue that another goroutine per
// partition applies: it takes one record, then whatever else is already
// queued up to Options.ApplyBatch without waiting, so a lone record (a
// write waiting for it) is applied at once and a backlog in batches. It
// reads the log's end before applying anything and then every
// Options.PollInterval; CaughtUp (readiness) latches true once every
// partition's position reaches the end last seen, and WaitApplied /
// WaitCaughtUp wake on every commit.
//
// # Reads
//
// List plans filters over the indexes (eq on id, externalId, userName,
// emails.value, displayName; sw on userName and displayName; ranges on
// meta.lastModified; and/or of those) and otherwise scans the tenant's
// resources of the type with the schemas evaluator; conditions on meta.*
// are evaluated here, since meta is not part of a stored Resource. A plan
// reads each distinct condition once and at most 32 index ranges and about
// two scans' worth of index keys; what it cannot afford is evaluated on a
// scan. It reads the type's counter, which sizes that budget, only once it
// has read more than 1024 index keys, so userName eq reads the userName's
// key and the record, nothing else. Index reads and scans stop soon after the request's context is
// done. Callers validate filters (schemas.ResourceType.CheckFilter) before
// List. Default order is by id; SortBy collects (sort key, id) of every
// match, sorts, and loads only the page. Cursors (RFC 9865) carry the last
// (sort key, id) returned and a hash of tenant, type, filter and sort, so an
// unfiltered list by id resumes with one seek however deep the page.
package projection
