package projection

import (
	"context"
	"errors"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// Get returns one resource of a tenant; a missing one is a *schemas.Error
// of KindNotFound. The Resource is the caller's to modify.
func (s *Store) Get(ctx context.Context, tenant, resourceType, id string, o view.GetOptions) (view.Stored, error) {
	if err := ctx.Err(); err != nil {
		return view.Stored{}, err
	}
	typ := canonicalType(resourceType)
	var st view.Stored
	err := s.db.View(func(txn *badger.Txn) error {
		var rec record
		found, err := readRecord(txn, resourceKey(tenant, typ, id), o.Raw, &rec)
		if err != nil {
			return err
		}
		if !found || typ == "" {
			return schemas.Errorf(schemas.KindNotFound, "%s %q not found", resourceType, id)
		}
		st = rec.stored(typ)
		return attach(ctx, txn, tenant, id, &st, o)
	})
	return st, err
}

// attach adds the derived attributes o asks for to st.Resource: a group's
// "members" and a user's "groups" (RFC 7643 §4.1.2, §4.2), both ordered by
// id. A nil Resource (one held as Raw) gets a map for them.
func attach(ctx context.Context, txn *badger.Txn, tenant, id string, st *view.Stored, o view.GetOptions) error {
	switch {
	case st.Type == typeGroup && o.Members:
		ms, err := memberList(ctx, txn, tenant, id)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return nil
		}
		list := make([]any, len(ms))
		for i, m := range ms {
			v := map[string]any{"value": m.Value}
			if m.Type != "" {
				v["type"] = m.Type
			}
			if m.Display != "" {
				v["display"] = m.Display
			}
			list[i] = v
		}
		st.SetDerived("members", list)
	case st.Type == typeUser && o.Groups:
		gs, err := groupsOf(ctx, txn, tenant, id)
		if err != nil {
			return err
		}
		if len(gs) == 0 {
			return nil
		}
		list := make([]any, len(gs))
		for i, g := range gs {
			v := map[string]any{"value": g.id, "type": "direct"}
			if g.displayName != "" {
				v["display"] = g.displayName
			}
			list[i] = v
		}
		st.SetDerived("groups", list)
	}
	return nil
}

// UserIDByUserName returns the id of the tenant's user whose userName equals
// userName case-insensitively: one point read, none when the key filter
// knows the userName is free.
func (s *Store) UserIDByUserName(ctx context.Context, tenant, userName string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	key := userNameKey(tenant, fold(userName))
	if !s.filter.mayHave(key) {
		return "", false, nil
	}
	var id string
	var found bool
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		id, found, err = getHolder(txn, key)
		return err
	})
	if err != nil || !found {
		return "", false, err
	}
	return id, true, nil
}

// getHolder returns the holder (firstHolder) of the userName whose key
// (userNameKey) is key: one point read.
func getHolder(txn *badger.Txn, key []byte) (string, bool, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var id string
	err = item.Value(func(v []byte) error {
		id, err = firstHolder(v)
		return err
	})
	return id, err == nil, err
}
