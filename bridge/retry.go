package bridge

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"
)

// Retries. A write answered 503 may still take effect: a produce request
// already on a stalled broker's socket is appended when the broker resumes,
// and a write the log acknowledged is in the log however long the
// projection takes to apply it. So that the client's retry
// is answered as the first attempt would have been, and not with 409, 412
// or 404, every event of a write carries the digest of its request
// (RequestDigest), the projection keeps the digest of the request behind
// each resource's current state (and, for a POST, finds the resource by it;
// for a DELETE, keeps a tombstone), and a write whose request produced the
// current state, unchanged since, appends nothing and answers with that
// state:
//
//   - POST: 201 with the resource that POST created;
//   - PUT, PATCH: the current resource, even though its If-Match no
//     longer matches;
//   - DELETE: 204.
//
// Only a request whose earlier attempt failed counts: one that this
// process accepted (its events went to the log) and has not answered with a
// failure, whether still in flight or answered with success, is a new
// request when it comes again, and gets what RFC 7644 says (a second
// identical POST of a user is 409, also while the first is in flight; a
// second DELETE 404). accepted remembers those requests, the last
// acceptedSize of them; a 503, a timeout or a client gone after the write
// was handed to the log forgets it again. A restart forgets them all, so
// an identical request repeated across a restart is answered like a retry.
// A group has no unique attribute, so the same POST of a group is always
// answered with the group it created while that is unchanged: a second
// group would look to the projection like the POST landed twice.
//
// A retry after another write changed the resource is a new write, since
// the current state is no longer what the first attempt produced: a POST
// of a user then gets 409, a PATCH with If-Match 412, a PUT or PATCH
// without one is applied again over the newer state. A retried DELETE is
// recognised while the tenant's last 10,000 deletions include it.
//
// Both attempts may land: the first can reach the log after the retry read
// the log's end (a broker that processes the stalled request after the
// retry's end query; a commit that outlasts its deadline). Updates and
// deletes then repeat a version, which the projection skips; of a POST
// landed twice the projection keeps the first resource, and the retry
// answers with it (result).

// digestVersion starts every digest's input, so that a change of what a
// digest covers never makes an old and a new digest equal.
const digestVersion = "scim-bridge request digest 1"

// RequestDigest returns the digest that identifies a SCIM write request in
// its events (events.Event.RequestDigest): SHA-256 over the tenant, the
// method, the resource type, the id (PUT, PATCH, DELETE; "" for POST), the
// If-Match header as sent and the body bytes as received, each prefixed
// with its length, truncated to 128 bits and written as 32 lower-case hex
// digits.
//
// Whoever reads the request (the HTTP handlers) computes it from what it
// received and passes it to the write as Request.Digest.
//
// The body counts as bytes, not as the JSON it encodes: identity providers
// resend a request as it was, and two requests that differ in any byte
// (even in whitespace, key order or a password that is never stored) are
// never taken for one another, so a digest can only fail to recognise a
// retry, never recognise what is not one.
func RequestDigest(tenant, method, resourceType, id, ifMatch string, body []byte) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	field := func(b []byte) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	for _, s := range []string{digestVersion, tenant, method, resourceType, id, ifMatch} {
		field([]byte(s))
	}
	field(body)
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// acceptedSize bounds the requests accepted remembers: 32,768 entries,
// about 2 MB.
const acceptedSize = 1 << 15

// accepted is the set of digests of requests whose write this process
// handed to the log and has not answered with a failure, the latest
// acceptedSize of them. The zero value is empty; it is safe for concurrent
// use.
type accepted struct {
	mu   sync.Mutex
	seq  uint64
	ring []acceptance // grows to acceptedSize, then is reused from next
	next int
	last map[[16]byte]uint64 // digest -> seq of its latest acceptance
}

type acceptance struct {
	key [16]byte
	seq uint64
}

func digestKey(d string) (k [16]byte, ok bool) {
	if len(d) != 32 {
		return k, false
	}
	_, err := hex.Decode(k[:], []byte(d))
	return k, err == nil
}

// add records that the write of digest d was accepted, or answered with
// success.
func (a *accepted) add(d string) {
	k, ok := digestKey(d)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		a.last = make(map[[16]byte]uint64)
	}
	a.seq++
	e := acceptance{key: k, seq: a.seq}
	if len(a.ring) < acceptedSize {
		a.ring = append(a.ring, e)
	} else {
		old := a.ring[a.next]
		if a.last[old.key] == old.seq {
			delete(a.last, old.key)
		}
		a.ring[a.next] = e
		a.next = (a.next + 1) % acceptedSize
	}
	a.last[k] = e.seq
}

// forget records that the write of digest d failed, though it may have
// taken effect.
func (a *accepted) forget(d string) {
	k, ok := digestKey(d)
	if !ok {
		return
	}
	a.mu.Lock()
	delete(a.last, k)
	a.mu.Unlock()
}

// has reports whether the latest write of digest d was accepted and not
// answered with a failure.
func (a *accepted) has(d string) bool {
	k, ok := digestKey(d)
	if !ok {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, found := a.last[k]
	return found
}

// retried reports whether a write of digest d finds the state its own
// earlier, failed attempt produced (stateDigest is the digest behind the
// current state).
func (b *Bridge) retried(stateDigest, d string) bool {
	return d != "" && stateDigest == d && !b.accepted.has(d)
}
