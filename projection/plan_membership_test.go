package projection

import (
	"context"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// TestStore_ListMembership: filters on a Group's members and a User's
// groups (RFC 7643 §4.1.2, §4.2) are answered from the membership index.
func TestStore_ListMembership(t *testing.T) {
	s := openMem(t, Options{})
	f := newFeed()
	f.userCreated("acme", "u1", "alice")
	f.userCreated("acme", "u2", "bob")
	f.userCreated("acme", "u3", "carol")
	f.groupCreated("acme", "g1", "Sales")
	f.groupCreated("acme", "g2", "Eng")
	f.groupCreated("acme", "g3", "Empty")
	f.addMembers("acme", "g1", "u1", "u2")
	f.addMembers("acme", "g2", "u2")
	f.emit("group.members_added", "acme", "Group", "g2", nil, []schemas.Member{{Value: "g1", Type: "Group"}}, nil)
	f.removeMembers("acme", "g1", "u1")
	f.groupCreated("globex", "g9", "Sales")
	f.userCreated("globex", "u2", "bob")
	f.addMembers("globex", "g9", "u2")
	applyAll(t, s, f.recs)

	tests := []struct {
		typ, filter string
		want        []string
	}{
		{"Group", `members[value eq "u2"]`, []string{"g1", "g2"}},
		{"Group", `members.value eq "u2"`, []string{"g1", "g2"}},
		{"Group", `members eq "u1"`, nil},
		{"Group", `members[value eq "g1"]`, []string{"g2"}},
		{"Group", `displayName eq "sales" and members[value eq "u2"]`, []string{"g1"}},
		{"Group", `members pr`, []string{"g1", "g2"}},
		{"Group", `not (members pr)`, []string{"g3"}},
		{"User", `groups[value eq "g1"]`, []string{"u2"}},
		{"User", `groups.value eq "g2"`, []string{"u2"}},
		{"User", `groups pr`, []string{"u2"}},
		{"User", `userName sw "a" or groups eq "g1"`, []string{"u1", "u2"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.filter, func(t *testing.T) {
			e, err := schemas.ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.List(context.Background(), "acme", tt.typ, view.Query{Filter: e, Count: 100})
			if err != nil {
				t.Fatalf("List(%q) = %v", tt.filter, err)
			}
			got := ids(p)
			if !slices.Equal(got, tt.want) || p.Total != len(tt.want) {
				t.Errorf("List(%q) = %v (total %d), want %v", tt.filter, got, p.Total, tt.want)
			}
		})
	}
	for _, filter := range []string{`members co "u"`, `members.display eq "x"`, `members[type eq "User"]`, `not (members ne "u1")`} {
		t.Run("Refused/"+filter, func(t *testing.T) {
			e, err := schemas.ParseFilter(filter)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.List(context.Background(), "acme", "Group", view.Query{Filter: e, Count: 100})
			if schemas.KindOf(err) != schemas.KindInvalidFilter {
				t.Errorf("List(%q) = %v, want KindInvalidFilter", filter, err)
			}
		})
	}
}
