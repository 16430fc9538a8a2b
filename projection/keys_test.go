package projection

import (
	"bytes"
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
