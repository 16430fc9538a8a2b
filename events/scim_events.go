package events

// SCIM event URIs of RFC 9967 ("SCIM Profile for Security Event Tokens"),
// §2.4 provisioning events. Every domain event names one in
// Event.SCIMEvent so that SCIM-aware consumers can classify it without
// knowing our type names.
//
// We use the "full" variants because each of our events carries the
// resource state after the change (user events) or the member deltas
// (group membership events), not just a notice; the record value is still
// our event data, not an RFC 8417 SET.
const (
	SCIMEventCreateFull = "urn:ietf:params:scim:event:prov:create:full" // RFC 9967 §2.4.1
	SCIMEventPatchFull  = "urn:ietf:params:scim:event:prov:patch:full"  // RFC 9967 §2.4.2
	SCIMEventPutFull    = "urn:ietf:params:scim:event:prov:put:full"    // RFC 9967 §2.4.3
	SCIMEventDelete     = "urn:ietf:params:scim:event:prov:delete"      // RFC 9967 §2.4.4
	SCIMEventActivate   = "urn:ietf:params:scim:event:prov:activate"    // RFC 9967 §2.4.5
	SCIMEventDeactivate = "urn:ietf:params:scim:event:prov:deactivate"  // RFC 9967 §2.4.6
)

// SCIMEventURI returns the RFC 9967 event URI of an event of type typ
// caused by an HTTP operation ("POST", "PUT", "PATCH", "DELETE"), or "" for
// a type it does not know:
//
//	user.created, group.created        create:full
//	user.updated, group.updated,
//	group.members_added,
//	group.members_removed              put:full when operation is PUT,
//	                                   patch:full otherwise (a PATCH, or the
//	                                   members_removed that a user DELETE
//	                                   causes: the group was modified)
//	user.deactivated                   deactivate
//	user.reactivated                   activate
//	user.deleted, group.deleted        delete
func SCIMEventURI(typ, operation string) string {
	switch typ {
	case UserCreated, GroupCreated:
		return SCIMEventCreateFull
	case UserUpdated, GroupUpdated, GroupMembersAdded, GroupMembersRemoved:
		if operation == "PUT" {
			return SCIMEventPutFull
		}
		return SCIMEventPatchFull
	case UserDeactivated:
		return SCIMEventDeactivate
	case UserReactivated:
		return SCIMEventActivate
	case UserDeleted, GroupDeleted:
		return SCIMEventDelete
	}
	return ""
}
