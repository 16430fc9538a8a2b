package projection

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The index keys built in one allocation are the keys their prefixes name:
// a scan of a prefix must find them, escapes included.
func TestKeysUnderTheirPrefixes(t *testing.T) {
	at := time.Date(2026, 12, 7, 3, 52, 7, 1, time.UTC)
	for _, s := range []string{"", "a", "acme", "x\x00y", "\x00", "a-rather-long-component-of-sixty-four-bytes-0123456789abcdefghij"} {
		tenant, a, b := s, s+"1", "2"+s
		for _, c := range []struct {
			name      string
			key, want []byte
		}{
			{"resource", resourceKey(tenant, a, b), appendStr(typePrefix(tenant, a), b)},
			{"count", countKey(tenant, a), appendStr(tenantNS(tenant, nsCount), a)},
			{"userName", userNameKey(tenant, a), appendStr(tenantNS(tenant, nsUserName), a)},
			{"externalId", externalIDKey(tenant, a, b, s), appendStr(externalIDPrefix(tenant, a, b), s)},
			{"email", emailKey(tenant, a, b), appendStr(emailPrefix(tenant, a), b)},
			{"displayName", displayNameKey(tenant, a, b), appendStr(displayNamePrefix(tenant, a), b)},
			{"modified", modifiedKey(tenant, a, at, b), appendStr(appendTime(modifiedPrefix(tenant, a), at), b)},
			{"member", memberKey(tenant, a, b), appendStr(memberPrefix(tenant, a), b)},
			{"memberOf", memberOfKey(tenant, a, b), appendStr(memberOfPrefix(tenant, a), b)},
			{"memberCount", memberCountKey(tenant, a), appendStr(tenantNS(tenant, nsMemberCount), a)},
			{"groupCount", groupCountKey(tenant, a), appendStr(tenantNS(tenant, nsGroupCount), a)},
		} {
			if !bytes.Equal(c.key, c.want) {
				t.Errorf("%s key of %q = %q, want %q", c.name, s, c.key, c.want)
			}
		}
	}
	// Without escapes, one allocation a key.
	if n := testing.AllocsPerRun(100, func() { _ = memberOfKey("acme", "user-1", "group-1") }); n != 1 {
		t.Errorf("memberOfKey allocates %v times, want 1", n)
	}
}

// TestKeyArena: keys cut from an arena equal the keys allocated on their
// own and keep their bytes while later keys are built, escaped past the
// room asked for, larger than a chunk, or appended to.
func TestKeyArena(t *testing.T) {
	var a keyArena
	type built struct{ got, want []byte }
	var keys []built
	for i := range 2_000 {
		id := fmt.Sprintf("id-%d", i)
		if i%500 == 0 {
			id = strings.Repeat("x", keyChunkMax) + id // larger than a chunk
		}
		if i%7 == 0 {
			id += "\x00" // escaped: grows past the room asked for
		}
		keys = append(keys,
			built{a.resourceKey("t", typeUser, id), resourceKey("t", typeUser, id)},
			built{a.memberKey("t", id, "m"), memberKey("t", id, "m")},
			built{a.userNameKey("t", id), userNameKey("t", id)})
	}
	for _, k := range keys {
		// Appending to a key must not write into the next one's bytes.
		_ = append(k.got, "overwrite"...)
	}
	for i, k := range keys {
		if !bytes.Equal(k.got, k.want) {
			t.Fatalf("key %d = %q, want %q", i, k.got, k.want)
		}
	}
}
