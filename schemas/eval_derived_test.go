package schemas

import (
	"slices"
	"testing"
	"time"
)

// fakeMembership is a Membership over a list of ids.
type fakeMembership []string

func (m fakeMembership) Has(id string) bool { return slices.Contains(m, id) }
func (m fakeMembership) Any() bool          { return len(m) > 0 }

func TestResourceType_MatchesDerived(t *testing.T) {
	user, group := modelRT(t, "User"), modelRT(t, "Group")
	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	d := func(typ string, ms ...string) *Derived {
		return &Derived{ResourceType: typ, Created: created, LastModified: created.Add(time.Hour), Membership: fakeMembership(ms)}
	}
	alice := Resource{"id": "u1", "userName": "alice"}
	sales := Resource{"id": "g1", "displayName": "Sales"}
	tests := []struct {
		rt     *ResourceType
		r      Resource
		d      *Derived
		filter string
		want   bool
	}{
		// meta.created and meta.lastModified compare as instants.
		{user, alice, d("User"), `meta.created eq "2025-03-01T13:00:00+01:00"`, true},
		{user, alice, d("User"), `meta.created ne "2025-03-01T12:00:00Z"`, false},
		{user, alice, d("User"), `meta.lastModified gt "2025-03-01T12:59:59.999999999Z"`, true},
		{user, alice, d("User"), `meta.lastModified le "2025-03-01T12:59:59Z"`, false},
		{user, alice, d("User"), `META.LASTMODIFIED ge "2025-03-01T13:00:00Z"`, true},
		{user, alice, d("User"), `urn:ietf:params:scim:schemas:core:2.0:User:meta.created lt "2026-01-01T00:00:00Z"`, true},
		{user, alice, d("User"), `meta.created eq "not a time"`, false},
		{user, alice, d("User"), `meta.created ne null`, false},
		// meta.resourceType is case-exact, eq and ne only.
		{user, alice, d("User"), `meta.resourceType eq "User"`, true},
		{user, alice, d("User"), `meta.resourceType eq "user"`, false},
		{user, alice, d("User"), `meta.resourceType ne "Group"`, true},
		{user, alice, d("User"), `meta.resourceType sw "U"`, false},
		// pr on the attributes every stored resource has in meta.
		{user, alice, d("User"), `meta.version pr`, true},
		{user, alice, d("User"), `meta.location pr`, true},
		{user, alice, d("User"), `meta.bogus pr`, false},
		{user, alice, d("User"), `meta.version eq "W/\"1\""`, false},
		// Membership conditions ask the Membership.
		{group, sales, d("Group", "u1", "u2"), `members[value eq "u2"]`, true},
		{group, sales, d("Group", "u1", "u2"), `members.value eq "u3"`, false},
		{group, sales, d("Group", "u1"), `members eq "u1" and displayName eq "sales"`, true},
		{group, sales, d("Group"), `members pr`, false},
		{group, sales, d("Group", "u9"), `not (members pr)`, false},
		{user, alice, d("User", "g1"), `groups[value eq "g1"]`, true},
		{user, alice, d("User", "g1"), `urn:ietf:params:scim:schemas:core:2.0:User:groups.value eq "g2" or groups pr`, true},
		{user, alice, &Derived{ResourceType: "User"}, `groups pr`, false},
		// The rest is the resource's, as Matches evaluates it.
		{user, alice, d("User"), `userName eq "ALICE" and meta.resourceType eq "User"`, true},
		{user, alice, d("User"), `emails[value pr]`, false},
	}
	for _, tt := range tests {
		e, err := ParseFilter(tt.filter)
		if err != nil {
			t.Fatalf("ParseFilter(%s) = %v", tt.filter, err)
		}
		if got := tt.rt.MatchesDerived(e, tt.r, tt.d); got != tt.want {
			t.Errorf("%s.MatchesDerived(%s) = %v, want %v", tt.rt.Name, tt.filter, got, tt.want)
		}
	}
}

func TestResourceType_CheckMembershipFilter(t *testing.T) {
	user, group := modelRT(t, "User"), modelRT(t, "Group")
	tests := []struct {
		rt     *ResourceType
		filter string
		ok     bool
	}{
		{group, `members[value eq "u1"] or members pr`, true},
		{group, `displayName sw "s" and not (members.value eq "u1")`, true},
		{group, `members.display eq "alice"`, false},
		{group, `members[type eq "User"]`, false},
		{group, `members co "u"`, false},
		{group, `members eq null`, false},
		{user, `groups[value eq "g1"]`, true},
		{user, `userName pr and groups.type eq "direct"`, false},
	}
	for _, tt := range tests {
		e, err := ParseFilter(tt.filter)
		if err != nil {
			t.Fatalf("ParseFilter(%s) = %v", tt.filter, err)
		}
		err = tt.rt.CheckMembershipFilter(e)
		if (err == nil) != tt.ok || err != nil && KindOf(err) != KindInvalidFilter {
			t.Errorf("%s.CheckMembershipFilter(%s) = %v, want ok %v (or KindInvalidFilter)", tt.rt.Name, tt.filter, err, tt.ok)
		}
	}
}
