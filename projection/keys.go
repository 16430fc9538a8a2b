package projection

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// The Badger key layout of the projection (doc.go describes it): the tags,
// the namespaces of a tenant and the functions that build each key. How a
// component is encoded is in keyenc.go.

// formatVersion is the version of the key layout written under keyFormat.
// Open refuses a store written with another version: the projection must be
// rebuilt from the log.
const formatVersion = "7"

// Top-level key tags. Everything a tenant owns sits under tagTenant.
const (
	tagFormat = 'F' // "F" -> formatVersion
	tagPos    = 'P' // "P" u32(partition) -> i64(next offset to apply)
	tagSkip   = 'S' // "S" u32(partition) i64(offset) -> JSON skipRecord
	tagClaim  = 'C' // "C" u32(partition) -> JSON {epoch, owner}: the claim in force (fence.go)
	tagGone   = 'Z' // "Z" str(tenant) str(groupID) -> "" while a deleted group's members are cleaned
	tagTenant = 't' // "t" str(tenant) ns ...
)

// Namespaces inside a tenant (the byte after str(tenant)).
const (
	nsResource    = 'r' // str(type) str(id) -> JSON record
	nsCount       = 'c' // str(type) -> i64(resources of that type)
	nsUserName    = 'n' // str(lower(userName)) -> str(id)...: its holders (userNameHolders)
	nsExternalID  = 'x' // str(type) str(externalId) str(id) -> ""
	nsEmail       = 'e' // str(lower(emails.value)) str(id) -> ""
	nsDisplayName = 'd' // str(lower(group displayName)) str(id) -> ""
	nsModified    = 'm' // str(type) t64(lastModified) str(id) -> ""
	nsMember      = 'g' // str(groupID) str(memberID) -> str(type) display
	nsMemberOf    = 'h' // str(memberID) str(groupID) -> ""
	nsMemberCount = 'k' // str(groupID) -> i64(members)
	nsGroupCount  = 'o' // str(memberID) -> i64(groups it is a direct member of) [str(groupID)...] (see groupsValue)
	nsCreatedBy   = 'q' // str(request digest) -> id: the resource a POST created, while unchanged (request.go)
	nsDeleted     = 'y' // str(type) str(id) -> u32(slot) digest: a recent DELETE (request.go)
	nsDeletedRing = 'w' // u32(slot) -> str(type) str(id): which tombstone a ring slot holds
	nsDeletedNext = 'v' // -> i64(tombstones written so far); the next slot is this modulo the ring size
)

func formatKey() []byte { return []byte{tagFormat} }

func posKey(partition int) []byte { return appendU32([]byte{tagPos}, uint32(partition)) }

func skipKey(partition int, offset int64) []byte {
	return appendI64(appendU32([]byte{tagSkip}, uint32(partition)), offset)
}

// tenantNS returns the prefix of namespace ns of tenant, with room for a
// few components more.
func tenantNS(tenant string, ns byte) []byte { return tenantKey(tenant, ns, 48) }

// tenantKey returns the prefix of namespace ns of tenant in a buffer with
// room for rest bytes more, so that a key built on it by appendStr
// allocates once (applying builds several keys per event; a component
// holding 0x00, which appendStr escapes, may grow it once more).
func tenantKey(tenant string, ns byte, rest int) []byte {
	return (*keyArena)(nil).tenantKey(tenant, ns, rest)
}

// tenantKey is tenantKey with the buffer taken from a (nil: allocated).
func (a *keyArena) tenantKey(tenant string, ns byte, rest int) []byte {
	b := a.alloc(1 + len(tenant) + 2 + 1 + rest)
	b = append(b, tagTenant)
	b = appendStr(b, tenant)
	return append(b, ns)
}

// strSize is the size of s as an appendStr component without escapes.
func strSize(s string) int { return len(s) + 2 }

// typePrefix is the prefix of every resource of a type.
func typePrefix(tenant, typ string) []byte { return appendStr(tenantNS(tenant, nsResource), typ) }

func resourceKey(tenant, typ, id string) []byte {
	return (*keyArena)(nil).resourceKey(tenant, typ, id)
}

func (a *keyArena) resourceKey(tenant, typ, id string) []byte {
	return appendStr(appendStr(a.tenantKey(tenant, nsResource, strSize(typ)+strSize(id)), typ), id)
}

func countKey(tenant, typ string) []byte {
	return (*keyArena)(nil).countKey(tenant, typ)
}

func (a *keyArena) countKey(tenant, typ string) []byte {
	return appendStr(a.tenantKey(tenant, nsCount, strSize(typ)), typ)
}

// userNameKey is the key of the users holding the userName lowered: one
// key per userName rather than one per user and userName, so that a user
// costs one key (userNameHolders).
func userNameKey(tenant, lowered string) []byte {
	return (*keyArena)(nil).userNameKey(tenant, lowered)
}

func (a *keyArena) userNameKey(tenant, lowered string) []byte {
	return appendStr(a.tenantKey(tenant, nsUserName, strSize(lowered)), lowered)
}

// userNameHolders is the value under userNameKey: the ids of the users
// holding the userName, each a str component. The first is the holder,
// whom userName eq answers with: the first claimant still holding it. The
// others follow in byte order, so that the next holder, should the holder
// let go, is the claimant of least id. The bridge keeps userNames unique,
// so the list has one id but for logs it did not write alone (two writers
// in the Kafka window, D40), and it is a function of the log, so applying
// stays deterministic.
type userNameHolders []string

func (h userNameHolders) encode(a *keyArena) []byte {
	size := 0
	for _, id := range h {
		size += strSize(id)
	}
	b := a.alloc(size)
	for _, id := range h {
		b = appendStr(b, id)
	}
	return b
}

// decodeUserNameHolders decodes a userNameHolders value, which lists at
// least one id.
func decodeUserNameHolders(v []byte) (userNameHolders, error) {
	return appendUserNameHolders(nil, v)
}

// appendUserNameHolders appends the ids of a userNameHolders value to ids.
func appendUserNameHolders(ids []string, v []byte) ([]string, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: userName holders list none", errBadState)
	}
	for rest := v; len(rest) > 0; {
		id, r, ok := readStr(rest)
		if !ok {
			return nil, fmt.Errorf("%w: malformed userName holders of %d bytes", errBadState, len(v))
		}
		ids = append(ids, id)
		rest = r
	}
	return ids, nil
}

// firstHolder returns the holder a userNameHolders value names, without
// decoding the others: what userName eq answers with.
func firstHolder(v []byte) (string, error) {
	if i := bytes.IndexByte(v, 0x00); i >= 0 && i+1 < len(v) && v[i+1] == 0x01 {
		return string(v[:i]), nil // no 0x00 to unescape: one copy
	}
	id, _, ok := readStr(v)
	if !ok {
		return "", fmt.Errorf("%w: malformed userName holders of %d bytes", errBadState, len(v))
	}
	return id, nil
}

// userNameEntrySize is the size of user id's entry under the userName
// lowered: its key, and its id in the value. It is what the index keeps
// per user and userName, and the limits apply to it as to an index key
// (maxKeyBytes), so that a userName is refused exactly when its entry
// would be.
func userNameEntrySize(tenant, lowered, id string) int {
	return escapedSize(tenant) + escapedSize(lowered) + escapedSize(id) + 2
}

// escapedSize is the size of s as an appendStr component.
func escapedSize(s string) int { return strSize(s) + strings.Count(s, "\x00") }

func externalIDPrefix(tenant, typ, externalID string) []byte {
	return appendStr(appendStr(tenantNS(tenant, nsExternalID), typ), externalID)
}

// externalIDKey is the x index key of resource id of typ with externalID.
func externalIDKey(tenant, typ, externalID, id string) []byte {
	return (*keyArena)(nil).externalIDKey(tenant, typ, externalID, id)
}

func (a *keyArena) externalIDKey(tenant, typ, externalID, id string) []byte {
	b := a.tenantKey(tenant, nsExternalID, strSize(typ)+strSize(externalID)+strSize(id))
	return appendStr(appendStr(appendStr(b, typ), externalID), id)
}

func emailPrefix(tenant, lowered string) []byte {
	return appendStr(tenantNS(tenant, nsEmail), lowered)
}

// emailKey is the e index key of user id with the email lowered.
func emailKey(tenant, lowered, id string) []byte {
	return (*keyArena)(nil).emailKey(tenant, lowered, id)
}

func (a *keyArena) emailKey(tenant, lowered, id string) []byte {
	return appendStr(appendStr(a.tenantKey(tenant, nsEmail, strSize(lowered)+strSize(id)), lowered), id)
}

func displayNamePrefix(tenant, lowered string) []byte {
	return appendStr(tenantNS(tenant, nsDisplayName), lowered)
}

// displayNameKey is the d index key of group id with the displayName
// lowered.
func displayNameKey(tenant, lowered, id string) []byte {
	return appendStr(appendStr(tenantKey(tenant, nsDisplayName, strSize(lowered)+strSize(id)), lowered), id)
}

func modifiedPrefix(tenant, typ string) []byte {
	return appendStr(tenantNS(tenant, nsModified), typ)
}

func modifiedKey(tenant, typ string, t time.Time, id string) []byte {
	return (*keyArena)(nil).modifiedKey(tenant, typ, t, id)
}

func (a *keyArena) modifiedKey(tenant, typ string, t time.Time, id string) []byte {
	b := appendStr(a.tenantKey(tenant, nsModified, strSize(typ)+8+strSize(id)), typ)
	return appendStr(appendTime(b, t), id)
}

func memberPrefix(tenant, groupID string) []byte {
	return appendStr(tenantNS(tenant, nsMember), groupID)
}

func memberKey(tenant, groupID, memberID string) []byte {
	return (*keyArena)(nil).memberKey(tenant, groupID, memberID)
}

func (a *keyArena) memberKey(tenant, groupID, memberID string) []byte {
	return appendStr(appendStr(a.tenantKey(tenant, nsMember, strSize(groupID)+strSize(memberID)), groupID), memberID)
}

func memberOfPrefix(tenant, memberID string) []byte {
	return appendStr(tenantNS(tenant, nsMemberOf), memberID)
}

func memberOfKey(tenant, memberID, groupID string) []byte {
	return (*keyArena)(nil).memberOfKey(tenant, memberID, groupID)
}

func (a *keyArena) memberOfKey(tenant, memberID, groupID string) []byte {
	return appendStr(appendStr(a.tenantKey(tenant, nsMemberOf, strSize(memberID)+strSize(groupID)), memberID), groupID)
}

func memberCountKey(tenant, groupID string) []byte {
	return appendStr(tenantKey(tenant, nsMemberCount, strSize(groupID)), groupID)
}

// groupCountKey holds what memberOfPrefix lists for memberID (see
// groupsValue), so a member's groups are one point read rather than an
// iterator, which costs a seek in every table overlapping the prefix; a
// member in no group has no key (a miss Badger's bloom filters answer).
func groupCountKey(tenant, memberID string) []byte {
	return (*keyArena)(nil).groupCountKey(tenant, memberID)
}

func (a *keyArena) groupCountKey(tenant, memberID string) []byte {
	return appendStr(a.tenantKey(tenant, nsGroupCount, strSize(memberID)), memberID)
}

// maxInlineGroups is the most groups a groupCountKey value lists; a member
// of more has only the count there, and its groups are read from the
// memberOfPrefix entries.
const maxInlineGroups = 32

// groupsValue is the value under groupCountKey: i64(n), the number of
// groups the member is directly in, then, when n <= maxInlineGroups, the
// ids of those groups as str components in byte order. It is a function of
// the membership alone, so applying stays deterministic.
type groupsValue struct {
	n   int64
	ids []string // sorted; nil when n > maxInlineGroups
}

func (g groupsValue) inline() bool { return g.n <= maxInlineGroups }

func (g groupsValue) encode(a *keyArena) []byte {
	size := 8
	if g.inline() {
		for _, id := range g.ids {
			size += len(id) + 2
		}
	}
	b := appendI64(a.alloc(size), g.n)
	if g.inline() {
		for _, id := range g.ids {
			b = appendStr(b, id)
		}
	}
	return b
}

func decodeGroupsValue(v []byte) (groupsValue, error) {
	if len(v) < 8 {
		return groupsValue{}, fmt.Errorf("%w: malformed group count of %d bytes", errBadState, len(v))
	}
	g := groupsValue{n: decodeI64(v[:8])}
	if g.n < 0 {
		return groupsValue{}, fmt.Errorf("%w: negative group count", errBadState)
	}
	if !g.inline() {
		return g, nil
	}
	g.ids = make([]string, 0, g.n)
	for rest := v[8:]; len(rest) > 0; {
		id, r, ok := readStr(rest)
		if !ok {
			return groupsValue{}, fmt.Errorf("%w: malformed group count of %d bytes", errBadState, len(v))
		}
		g.ids = append(g.ids, id)
		rest = r
	}
	if int64(len(g.ids)) != g.n {
		return groupsValue{}, fmt.Errorf("%w: group count %d lists %d groups", errBadState, g.n, len(g.ids))
	}
	return g, nil
}

func tombstoneKey(tenant, groupID string) []byte {
	return appendStr(appendStr([]byte{tagGone}, tenant), groupID)
}

// memberValue encodes a membership entry's value: the member's type as a
// component, then its display verbatim.
func memberValue(a *keyArena, typ, display string) []byte {
	return append(appendStr(a.alloc(len(typ)+len(display)+2), typ), display...)
}

func decodeMemberValue(v []byte) (typ, display string) {
	typ, rest, ok := readStr(v)
	if !ok {
		return "", ""
	}
	return typ, string(rest)
}

// fold is the index form of a case-insensitive value: schemas.Fold, the
// evaluator's rule, so that eq and sw plans over the folded indexes are
// exact.
func fold(s string) string { return schemas.Fold(s) }

// keyArena holds the keys (and the small values: counters, userName
// holders, group lists, members) one transaction of applying builds: each
// is cut from a chunk (growing from 1 KiB to 16 KiB a chunk), and no byte
// is handed out twice, so a key stays as it was built for as long as the
// transaction (Badger's keeps what it is given until it commits) or
// anything else holds it. Applying builds about ten keys an event; one
// allocation each cost a tenth of the bulk replay's allocations. A nil
// *keyArena allocates each on its own.
type keyArena struct{ chunk []byte }

const (
	keyChunkFirst = 1 << 10
	keyChunkMax   = 16 << 10
)

// alloc returns an empty slice with room for n bytes; appending past them
// reallocates, leaving the chunk's next bytes alone.
func (a *keyArena) alloc(n int) []byte {
	if a == nil {
		return make([]byte, 0, n)
	}
	if len(a.chunk)+n > cap(a.chunk) {
		size := min(max(2*cap(a.chunk), keyChunkFirst), keyChunkMax)
		a.chunk = make([]byte, 0, max(size, n))
	}
	off := len(a.chunk)
	a.chunk = a.chunk[:off+n]
	return a.chunk[off : off : off+n]
}
