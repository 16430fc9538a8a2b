package scimhttp

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

var testTime = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// fakeStore is an in-memory Reader and Writer. It evaluates only what the
// tests need of filters (eq on top-level strings, case-insensitively, and
// "and"), pages by index and by a numeric cursor, and records the last
// request it was given. Function fields inject failures.
type fakeStore struct {
	mu        sync.Mutex
	resources map[string]view.Stored // tenant/type/id
	members   map[string][]any       // group id -> members
	nextID    int

	lastGet   view.GetOptions
	lastQuery view.Query
	lastReq   bridge.Request
	gets      int
	queries   int

	err    func(op string) error // non-nil: the error every operation returns
	ignore []schemas.Ignored     // what every write reports as ignored
}

var (
	_ Reader = (*fakeStore)(nil)
	_ Writer = (*fakeStore)(nil)
)

func newFakeStore() *fakeStore {
	return &fakeStore{resources: map[string]view.Stored{}, members: map[string][]any{}}
}

func key(tenant, typ, id string) string { return tenant + "/" + typ + "/" + id }

// put adds a resource directly, as if written earlier.
func (f *fakeStore) put(tenant, typ string, r schemas.Resource, members ...string) view.Stored {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := view.Stored{Type: typ, Resource: r, Version: 1, Created: testTime, LastModified: testTime}
	f.resources[key(tenant, typ, r.ID())] = st
	for _, m := range members {
		f.members[r.ID()] = append(f.members[r.ID()], map[string]any{"value": m, "type": "User"})
	}
	return st
}

func (f *fakeStore) failure(op string) error {
	if f.err == nil {
		return nil
	}
	return f.err(op)
}

// load adds the derived attributes GetOptions asks for to a copy.
func (f *fakeStore) load(st view.Stored, o view.GetOptions) view.Stored {
	r := make(schemas.Resource, len(st.Resource)+1)
	for k, v := range st.Resource {
		r[k] = v
	}
	if o.Members && len(f.members[r.ID()]) > 0 {
		r["members"] = f.members[r.ID()]
	}
	if o.Groups {
		var groups []any
		for gid, ms := range f.members {
			for _, m := range ms {
				if m.(map[string]any)["value"] == r.ID() {
					groups = append(groups, map[string]any{"value": gid, "type": "direct"})
				}
			}
		}
		if groups != nil {
			r["groups"] = groups
		}
	}
	st.Resource = r
	return st
}

func (f *fakeStore) Get(ctx context.Context, tenant, typ, id string, o view.GetOptions) (view.Stored, error) {
	if err := f.failure("get"); err != nil {
		return view.Stored{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastGet = o
	f.gets++
	st, ok := f.resources[key(tenant, typ, id)]
	if !ok {
		return view.Stored{}, schemas.Errorf(schemas.KindNotFound, "%s %s not found", typ, id)
	}
	return f.load(st, o), nil
}

func (f *fakeStore) List(ctx context.Context, tenant, typ string, q view.Query) (view.Page, error) {
	if err := f.failure("list"); err != nil {
		return view.Page{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastQuery = q
	f.queries++
	var all []view.Stored
	for k, st := range f.resources {
		if strings.HasPrefix(k, tenant+"/"+typ+"/") && matches(q.Filter, st.Resource) {
			all = append(all, st)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Resource.ID() < all[j].Resource.ID() })
	start := q.StartIndex - 1
	if q.UseCursor {
		start = 0
		if q.Cursor != "" {
			n, err := fmt.Sscanf(q.Cursor, "c%d", &start)
			if err != nil || n != 1 || start < 0 {
				return view.Page{}, schemas.Errorf(schemas.KindInvalidCursor, "bad cursor")
			}
		}
	}
	page := view.Page{Total: len(all)}
	for i := start; i < len(all) && len(page.Resources) < q.Count; i++ {
		page.Resources = append(page.Resources, f.load(all[i], q.Get))
	}
	if q.UseCursor && start+len(page.Resources) < len(all) {
		page.NextCursor = fmt.Sprintf("c%d", start+len(page.Resources))
	}
	return page, nil
}

// matches evaluates the filters the tests send.
func matches(e schemas.Expr, r schemas.Resource) bool {
	switch e := e.(type) {
	case nil:
		return true
	case *schemas.LogicalExpr:
		if e.And {
			return matches(e.Left, r) && matches(e.Right, r)
		}
		return matches(e.Left, r) || matches(e.Right, r)
	case *schemas.CompareExpr:
		for k, v := range r {
			if strings.EqualFold(k, e.Path.Name) && e.Op == schemas.OpEq {
				s, _ := v.(string)
				want, _ := e.Value.(string)
				return strings.EqualFold(s, want)
			}
		}
	}
	return false
}

func (f *fakeStore) write(req bridge.Request) {
	f.lastReq = req
}

// applied is a write's answer: it reports f.ignore as ignored.
func (f *fakeStore) applied(st view.Stored) bridge.Applied {
	return bridge.Applied{ID: st.Resource.ID(), Version: st.Version, Offset: -1, Ignored: f.ignore}
}

func (f *fakeStore) Create(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, r schemas.Resource) (bridge.Applied, error) {
	if err := f.failure("create"); err != nil {
		return bridge.Applied{}, err
	}
	f.mu.Lock()
	f.write(req)
	f.nextID++
	r["id"] = fmt.Sprintf("id-%d", f.nextID)
	f.mu.Unlock()
	delete(r, "members")
	return f.applied(f.put(req.Tenant, rt.Name, r)), nil
}

func (f *fakeStore) update(req bridge.Request, rt *schemas.ResourceType, id string, change func(schemas.Resource)) (bridge.Applied, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.write(req)
	k := key(req.Tenant, rt.Name, id)
	st, ok := f.resources[k]
	if !ok {
		return bridge.Applied{}, schemas.Errorf(schemas.KindNotFound, "%s %s not found", rt.Name, id)
	}
	if err := req.IfMatch.CheckIfMatch(st.Version); err != nil {
		return bridge.Applied{}, err
	}
	change(st.Resource)
	st.Version++
	st.LastModified = testTime.Add(time.Minute)
	f.resources[k] = st
	return f.applied(st), nil
}

func (f *fakeStore) Replace(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string, next schemas.Resource) (bridge.Applied, error) {
	if err := f.failure("replace"); err != nil {
		return bridge.Applied{}, err
	}
	return f.update(req, rt, id, func(r schemas.Resource) {
		for k, v := range next {
			if k != "id" && k != "members" {
				r[k] = v
			}
		}
	})
}

func (f *fakeStore) Patch(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string, p schemas.Patch) (bridge.Applied, error) {
	if err := f.failure("patch"); err != nil {
		return bridge.Applied{}, err
	}
	return f.update(req, rt, id, func(r schemas.Resource) { r["patched"] = true })
}

func (f *fakeStore) Delete(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string) error {
	if err := f.failure("delete"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.write(req)
	k := key(req.Tenant, rt.Name, id)
	if _, ok := f.resources[k]; !ok {
		return schemas.Errorf(schemas.KindNotFound, "%s %s not found", rt.Name, id)
	}
	delete(f.resources, k)
	return nil
}
