package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// Create is POST (RFC 7644 §3.3): r, a decoded resource of rt
// (schemas.ResourceType.Decode), is checked against current state
// (userName uniqueness, member ids) and created; the events are the
// created event and, for a group with members, a members_added event. The
// bridge takes r over. A retry of a POST whose first attempt created a
// resource, unchanged since, answers with that resource (retry.go).
func (b *Bridge) Create(ctx context.Context, req Request, rt *schemas.ResourceType, r schemas.Resource) (Applied, error) {
	ctx, cancel := b.deadline(ctx)
	defer cancel()
	members, err := rt.SplitMembers(r)
	if err != nil {
		return Applied{}, err
	}
	d := req.Digest
	id := b.newID()
	r["id"] = id
	// target is the resource to answer with: id, or the one an earlier
	// attempt created. Each run of the plan sets it; the caller reads it
	// after the last run's outcome.
	target := id
	var skipped []schemas.Ignored // by the plan's last run
	o, err := b.submit(ctx, req.Tenant, d, func(ctx context.Context, st State) ([]events.Event, error) {
		target = id
		// A user's userName is looked up first: while it is free, no
		// earlier attempt of this POST has a user to answer with (that
		// user, made from the same body and unchanged since, would hold
		// it), and that lookup is left out.
		unique := checkUnique(ctx, st, req.Tenant, rt, "", r)
		if unique != nil && schemas.KindOf(unique) != schemas.KindUniqueness {
			return nil, unique
		}
		if un, _ := r["userName"].(string); unique != nil || un == "" || !rt.IsUser() {
			prev, err := b.createdBefore(ctx, st, req.Tenant, rt, d)
			if err != nil {
				return nil, err
			}
			if prev != "" {
				target = prev
				return nil, nil
			}
		}
		if unique != nil {
			return nil, unique
		}
		mu := req.Unknowns()
		added, err := resolveMembers(ctx, st, req.Tenant, id, members, mu)
		if err != nil {
			return nil, err
		}
		skipped = mu.Ignored
		w := b.newWrite(req, rt, id, r.ExternalID(), 0, "POST")
		w.add(createdType(rt), r, attributeNames(r), nil, nil)
		if len(added) > 0 {
			w.add(events.GroupMembersAdded, nil, nil, added, nil)
		}
		return w.evs, nil
	})
	if err != nil {
		return Applied{}, err
	}
	return b.result(ctx, req, rt, target, o, true, skipped)
}

// createdBefore returns the id of the resource an earlier attempt of the
// POST with digest d created, if its retry is to be answered with it
// (retry.go), else "". The same POST of a user, once accepted, is a new
// request that gets 409; of a group, it is answered with the group it
// created while that is unchanged, since a second one would be the same
// POST landed twice, which the projection ignores.
func (b *Bridge) createdBefore(ctx context.Context, st State, tenant string, rt *schemas.ResourceType, d string) (string, error) {
	if d == "" || rt.IsUser() && b.accepted.has(d) {
		return "", nil
	}
	id, found, err := st.CreatedBy(ctx, tenant, d)
	if err != nil {
		return "", fmt.Errorf("look up an earlier attempt: %w", err)
	}
	if !found {
		return "", nil
	}
	cur, err := st.Get(ctx, tenant, rt.Name, id, view.GetOptions{})
	if schemas.KindOf(err) == schemas.KindNotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up an earlier attempt: %w", err)
	}
	if cur.RequestDigest != d {
		return "", nil
	}
	return id, nil
}

// result waits until the projection has applied a write's events and reads
// back the version of resource id, so that the caller reads its own write;
// created says the write is a POST, ignored what it skipped. Past the
// write's deadline the write, though in the log, fails with
// KindUnavailable; its retry finds it.
func (b *Bridge) result(ctx context.Context, req Request, rt *schemas.ResourceType, id string, o outcome, created bool, ignored []schemas.Ignored) (Applied, error) {
	d := req.Digest
	if err := b.await(ctx, o); err != nil {
		return Applied{}, b.failed(d, err)
	}
	st, err := b.readBack(ctx, req, rt, id, o)
	if schemas.KindOf(err) == schemas.KindNotFound && o.n > 0 && created && d != "" {
		// An earlier attempt of this POST landed after the plan read the
		// state, and before this one: the projection kept that one
		// (projection.Store.CreatedBy).
		if prev, found, lerr := b.state.CreatedBy(ctx, req.Tenant, d); lerr == nil && found {
			id = prev
			st, err = b.state.Get(ctx, req.Tenant, rt.Name, id, req.Answer)
		}
	}
	if err != nil {
		err = interrupted(ctx, "read the result", err)
		if o.n > 0 {
			err = b.failed(d, err)
		}
		return Applied{}, err
	}
	b.accepted.add(d)
	a := Applied{ID: id, Version: st.Version, Partition: o.partition, Offset: -1, Ignored: ignored, Stored: st}
	if o.n > 0 {
		a.Offset = o.last
	} else {
		a.Partition = events.PartitionFor(req.Tenant, b.log.Partitions())
	}
	return a, nil
}

// readBack reads resource id of rt as a write with outcome o, applied,
// left it: from what the projection kept of the write's last event when
// it can, else from its state.
func (b *Bridge) readBack(ctx context.Context, req Request, rt *schemas.ResourceType, id string, o outcome) (view.Stored, error) {
	if o.n > 0 {
		st, found, err := b.state.Written(ctx, o.partition, o.last, req.Tenant, rt.Name, id, req.Answer)
		if found || err != nil {
			return st, err
		}
	}
	return b.state.Get(ctx, req.Tenant, rt.Name, id, req.Answer)
}

// await waits until the projection has applied a write's events, if it
// appended any.
func (b *Bridge) await(ctx context.Context, o outcome) error {
	if o.n == 0 {
		return nil
	}
	if err := b.state.WaitApplied(ctx, o.partition, o.last); err != nil {
		if errors.Is(err, view.ErrVoid) {
			// Another replica claimed the partition before the events
			// landed: they were not applied, the write did not happen.
			return &schemas.Error{Kind: schemas.KindUnavailable, Err: err,
				Detail: "the write was fenced off: another replica now writes for this tenant; retry later"}
		}
		return interrupted(ctx, fmt.Sprintf("await offset %d of partition %d", o.last, o.partition), err)
	}
	return nil
}

// failed returns err, the failure of the write of digest d after the log
// took it: its request is no longer taken as accepted, so that a retry is
// recognised (retry.go).
func (b *Bridge) failed(d string, err error) error {
	b.accepted.forget(d)
	return err
}

// Replace is PUT (RFC 7644 §3.5.1): r, a decoded resource of rt
// (schemas.ResourceType.Decode), replaces the attributes of resource id;
// immutable ones must not change.
func (b *Bridge) Replace(ctx context.Context, req Request, rt *schemas.ResourceType, id string, r schemas.Resource) (Applied, error) {
	return b.update(ctx, req, rt, id, "PUT", func(cur view.Stored, members schemas.Members, _ *schemas.Unknowns) (schemas.Resource, schemas.Change, error) {
		return rt.Replace(cur.Resource, members, r)
	})
}

// Patch is PATCH (RFC 7644 §3.5.2) of resource id with the operations of p
// (schemas.ParsePatch).
func (b *Bridge) Patch(ctx context.Context, req Request, rt *schemas.ResourceType, id string, p schemas.Patch) (Applied, error) {
	return b.update(ctx, req, rt, id, "PATCH", func(cur view.Stored, members schemas.Members, u *schemas.Unknowns) (schemas.Resource, schemas.Change, error) {
		return rt.ApplyPatchWith(cur.Resource, members, p, u)
	})
}

// update runs a PUT or PATCH (op): load the current state, compute the
// change, and make the events it implies. A change that changes nothing
// appends nothing and answers with the resource as it is, and so does a
// retry of the request that produced the current state (retry.go). apply
// records what it ignores in the Unknowns it gets.
func (b *Bridge) update(ctx context.Context, req Request, rt *schemas.ResourceType, id, op string,
	apply func(view.Stored, schemas.Members, *schemas.Unknowns) (schemas.Resource, schemas.Change, error)) (Applied, error) {
	ctx, cancel := b.deadline(ctx)
	defer cancel()
	var ignored []schemas.Ignored // by the plan's last run
	o, err := b.submit(ctx, req.Tenant, req.Digest, func(ctx context.Context, st State) ([]events.Event, error) {
		cur, err := st.Get(ctx, req.Tenant, rt.Name, id, view.GetOptions{})
		if err != nil {
			return nil, err
		}
		if b.retried(cur.RequestDigest, req.Digest) {
			return nil, nil
		}
		if err := req.IfMatch.CheckIfMatch(cur.Version); err != nil {
			return nil, err
		}
		var members schemas.Members
		if rt.IsGroup() {
			members = st.Members(ctx, req.Tenant, id)
		}
		u := req.Unknowns()
		next, change, err := apply(cur, members, u)
		if members != nil && members.Err() != nil {
			// A membership read failed and answered "absent": the change
			// may lack a removal. Nothing is appended.
			return nil, members.Err()
		}
		if err != nil {
			return nil, err
		}
		ignored = u.Ignored
		if change.Empty() {
			return nil, nil
		}
		next["id"] = id
		if err := checkUnique(ctx, st, req.Tenant, rt, id, next); err != nil {
			return nil, err
		}
		added, err := resolveMembers(ctx, st, req.Tenant, id, change.MembersAdded, u)
		if err != nil {
			return nil, err
		}
		ignored = u.Ignored
		w := b.newWrite(req, rt, id, next.ExternalID(), cur.Version, op)
		if len(change.Attributes) > 0 {
			w.add(updatedType(rt, cur.Resource, next), next, change.Attributes, nil, nil)
		}
		if len(added) > 0 {
			w.add(events.GroupMembersAdded, nil, nil, added, nil)
		}
		if len(change.MembersRemoved) > 0 {
			w.add(events.GroupMembersRemoved, nil, nil, nil, change.MembersRemoved)
		}
		return w.evs, nil
	})
	if err != nil {
		return Applied{}, err
	}
	return b.result(ctx, req, rt, id, o, false, ignored)
}

// Delete is DELETE (RFC 7644 §3.6). The resource leaves every group it was a
// member of first (one members_removed event per group), then is deleted.
// A retry of a DELETE that deleted the resource succeeds (retry.go).
func (b *Bridge) Delete(ctx context.Context, req Request, rt *schemas.ResourceType, id string) error {
	ctx, cancel := b.deadline(ctx)
	defer cancel()
	gt, _ := b.reg.ResourceType(schemas.Group)
	d := req.Digest
	o, err := b.submit(ctx, req.Tenant, d, func(ctx context.Context, st State) ([]events.Event, error) {
		cur, err := st.Get(ctx, req.Tenant, rt.Name, id, view.GetOptions{})
		if schemas.KindOf(err) == schemas.KindNotFound {
			if gone, err2 := b.deletedBefore(ctx, st, req.Tenant, rt, id, d); err2 != nil || gone {
				return nil, err2
			}
		}
		if err != nil {
			return nil, err
		}
		if err := req.IfMatch.CheckIfMatch(cur.Version); err != nil {
			return nil, err
		}
		groups, err := st.GroupsOf(ctx, req.Tenant, id)
		if err != nil {
			return nil, fmt.Errorf("groups of %s: %w", id, err)
		}
		var evs []events.Event
		for _, gid := range groups {
			g, err := st.Get(ctx, req.Tenant, schemas.Group, gid, view.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("group %s of %s: %w", gid, id, err)
			}
			w := b.newWrite(req, gt, gid, g.Resource.ExternalID(), g.Version, "DELETE")
			w.add(events.GroupMembersRemoved, nil, nil, nil, []schemas.Member{{Value: id, Type: rt.Name}})
			evs = append(evs, w.evs...)
		}
		w := b.newWrite(req, rt, id, cur.Resource.ExternalID(), cur.Version, "DELETE")
		w.add(deletedType(rt), nil, nil, nil, nil)
		return append(evs, w.evs...), nil
	})
	if err != nil {
		return err
	}
	if err := b.await(ctx, o); err != nil {
		return b.failed(d, err)
	}
	b.accepted.add(d)
	return nil
}

// deletedBefore reports whether an earlier attempt of the DELETE with
// digest d deleted resource id and its retry is to succeed (retry.go).
func (b *Bridge) deletedBefore(ctx context.Context, st State, tenant string, rt *schemas.ResourceType, id, d string) (bool, error) {
	by, found, err := st.DeletedBy(ctx, tenant, rt.Name, id)
	if err != nil {
		return false, fmt.Errorf("look up an earlier attempt: %w", err)
	}
	return found && b.retried(by, d), nil
}

// checkUnique enforces userName uniqueness per tenant, case-insensitively
// (RFC 7643 §4.1.1: uniqueness "server"). self is the id being updated.
func checkUnique(ctx context.Context, st State, tenant string, rt *schemas.ResourceType, self string, r schemas.Resource) error {
	if !rt.IsUser() {
		return nil
	}
	name, _ := r["userName"].(string)
	other, ok, err := st.UserIDByUserName(ctx, tenant, name)
	if err != nil {
		return fmt.Errorf("look up userName: %w", err)
	}
	if ok && other != self {
		return schemas.Errorf(schemas.KindUniqueness, "userName %q is already taken by another user", name)
	}
	return nil
}

// errNoMember marks a member id that names no User or Group of the tenant.
var errNoMember = errors.New("no such member")

// resolveMembers checks that every member to add exists in the tenant and
// fills in its type, so events always say what a member is. An id that
// names nothing is skipped and recorded in u (Entra sends many members in
// one PATCH, and one user deleted on our side must not block the group's
// other members forever), or, with u.Strict, fails the write.
func resolveMembers(ctx context.Context, st State, tenant, groupID string, ms []schemas.Member, u *schemas.Unknowns) ([]schemas.Member, error) {
	out := make([]schemas.Member, 0, len(ms))
	for _, m := range ms {
		if m.Value == groupID {
			return nil, schemas.Errorf(schemas.KindInvalidValue, "members: a group cannot be a member of itself")
		}
		typ, err := memberType(ctx, st, tenant, m)
		if errors.Is(err, errNoMember) && !u.Strict {
			u.Add(schemas.IgnoredMember, m.Value)
			continue
		}
		if err != nil {
			return nil, err
		}
		m.Type = typ
		out = append(out, m)
	}
	return out, nil
}

// memberType returns the type of the tenant's resource member m names: the
// type m gives, in any case, or, when it gives none, User or Group.
func memberType(ctx context.Context, st State, tenant string, m schemas.Member) (string, error) {
	types := []string{schemas.User, schemas.Group}
	switch {
	case m.Type == "":
	case strings.EqualFold(m.Type, schemas.User):
		types = types[:1]
	case strings.EqualFold(m.Type, schemas.Group):
		types = types[1:]
	default:
		return "", schemas.Errorf(schemas.KindInvalidValue, "members: type %q is not User or Group", m.Type)
	}
	for _, t := range types {
		_, err := st.Get(ctx, tenant, t, m.Value, view.GetOptions{})
		if err == nil {
			return t, nil
		}
		if schemas.KindOf(err) != schemas.KindNotFound {
			return "", fmt.Errorf("look up member %s: %w", m.Value, err)
		}
	}
	return "", &schemas.Error{Kind: schemas.KindInvalidValue, Err: errNoMember,
		Detail: fmt.Sprintf("members: no %s with id %q", strings.Join(types, " or "), m.Value)}
}

func attributeNames(r schemas.Resource) []string {
	names := make([]string, 0, len(r)) // one allocation unless an extension adds names
	for k, v := range r {
		switch k {
		case "id", "schemas":
			continue
		}
		if ext, ok := v.(map[string]any); ok && strings.HasPrefix(k, "urn:") {
			for sub := range ext {
				names = append(names, k+":"+sub)
			}
			continue
		}
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
