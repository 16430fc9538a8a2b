package projection

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// List answers a query over one tenant's resources of one type.
//
// The filter is planned over the indexes (see lister.plan); what no index
// answers is evaluated on a scan of the tenant's resources of the type.
// Total never needs every resource in memory: an unfiltered list reads the
// type's counter, an exact index plan counts ids, and otherwise matches are
// counted as they stream by, keeping only the page (or, with SortBy, only
// each match's sort key and id). Default order is by id, which for the
// bridge's time-ordered ids is creation order; an unfiltered list pages by
// seeking, so a deep page with a cursor costs what the first one does.
//
// A cursor from another query (tenant, type, filter or sort) or a malformed
// one is a *schemas.Error of KindInvalidCursor. An unknown resource type is
// KindNotFound. Once ctx is done, List stops within a few hundred index
// keys or records and returns ctx's error, however large the tenant.
func (s *Store) List(ctx context.Context, tenant, resourceType string, q view.Query) (view.Page, error) {
	if err := ctx.Err(); err != nil {
		return view.Page{}, err
	}
	typ := canonicalType(resourceType)
	if typ == "" {
		return view.Page{}, schemas.Errorf(schemas.KindNotFound, "unknown resource type %q", resourceType)
	}
	var rt *schemas.ResourceType
	if s.reg != nil {
		rt, _ = s.reg.ResourceType(typ)
	}
	if rt == nil && (q.Filter != nil || q.SortBy != nil) {
		return view.Page{}, fmt.Errorf("list %s: no schema registry to filter or sort with", typ)
	}
	w := &window{count: max(q.Count, 0), skip: max(q.StartIndex, 1) - 1, useCursor: q.UseCursor,
		desc: q.SortBy != nil && q.Descending}
	var hash uint64 // binds cursors to the query; only cursor lists need it
	if q.UseCursor {
		hash = queryHash(tenant, typ, q)
	}
	if q.UseCursor && q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, hash)
		if err != nil {
			return view.Page{}, err
		}
		w.after = &c
	}
	var page view.Page
	l := &lister{tenant: tenant, typ: typ, rt: rt, probe: s.probe, hints: s.hints, raw: q.Get.Raw}
	if s.probe != nil && s.probe.done != nil {
		defer func() { s.probe.done(l.stats) }()
	}
	err := s.db.View(func(txn *badger.Txn) error {
		l.txn = txn
		if err := l.fill(ctx, q, w); err != nil {
			return err
		}
		page.Total = w.total
		page.Resources = make([]view.Stored, 0, len(w.ids))
		for i, id := range w.ids {
			var st view.Stored
			if r := w.recs[i]; r != nil {
				st = r.stored(typ)
			} else {
				l.stats.points++
				var rec record
				found, err := readRecord(txn, resourceKey(tenant, typ, id), q.Get.Raw, &rec)
				if err != nil {
					return err
				}
				if !found {
					continue // an index entry without its resource: not in this snapshot
				}
				st = rec.stored(typ)
			}
			if err := attach(ctx, txn, tenant, id, &st, q.Get); err != nil {
				return err
			}
			page.Resources = append(page.Resources, st)
		}
		return nil
	})
	if err != nil {
		return view.Page{}, fmt.Errorf("list %s: %w", typ, err)
	}
	if w.useCursor && w.more && len(w.ids) > 0 {
		last := len(w.ids) - 1
		c := cursor{hash: hash, id: w.ids[last]}
		if w.keys != nil {
			c.key = w.keys[last]
		}
		page.NextCursor = c.encode()
	}
	return page, nil
}

// window selects the page among matches and counts them all.
type window struct {
	count     int
	skip      int     // offset mode: matches before the page
	useCursor bool    // cursor mode: the page starts after `after`
	after     *cursor // nil: from the start
	desc      bool

	total int
	ids   []string  // the page
	recs  []*record // the page's records where already read, else nil
	keys  [][]byte  // the page's sort keys (sorted lists only)
	more  bool      // matches follow the page
}

// offer takes the next match of a list ordered by id, and its record if
// it was read (else nil).
func (w *window) offer(id string, r *record) {
	w.total++
	if w.useCursor {
		if w.after != nil && id <= w.after.id {
			return
		}
		if len(w.ids) < w.count {
			w.add(id, r)
		} else {
			w.more = true
		}
		return
	}
	if i := w.total - 1; i >= w.skip && i < w.skip+w.count {
		w.add(id, r)
	}
}

func (w *window) add(id string, r *record) {
	w.ids = append(w.ids, id)
	w.recs = append(w.recs, r)
}

// entry is a match of a sorted list.
type entry struct {
	key []byte
	id  string
}

func (w *window) compare(a, b entry) int {
	c := bytes.Compare(a.key, b.key)
	if c == 0 {
		c = strings.Compare(a.id, b.id)
	}
	if w.desc {
		c = -c
	}
	return c
}

// sorted takes every match of a sorted list at once.
func (w *window) sorted(es []entry) {
	slices.SortFunc(es, w.compare)
	w.total = len(es)
	from := w.skip
	if w.useCursor {
		from = 0
		if w.after != nil {
			after := entry{key: w.after.key, id: w.after.id}
			from, _ = slices.BinarySearchFunc(es, after, w.compare)
			for from < len(es) && w.compare(es[from], after) <= 0 {
				from++
			}
		}
	}
	from = min(from, len(es))
	to := min(from+w.count, len(es))
	w.more = to < len(es)
	w.keys = [][]byte{}
	for _, e := range es[from:to] {
		w.add(e.id, nil)
		w.keys = append(w.keys, e.key)
	}
}

// fill feeds every match of q to w.
func (l *lister) fill(ctx context.Context, q view.Query, w *window) error {
	if q.Filter == nil && q.SortBy == nil {
		return l.fillAll(ctx, w, q.Get.Raw)
	}
	var p *plan
	filter := q.Filter
	if filter != nil {
		if err := l.rt.CheckMembershipFilter(filter); err != nil {
			return err
		}
		filter = dedupe(filter)
		var err error
		if p, err = l.plan(ctx, filter); err != nil {
			return err
		}
	}
	if p != nil && p.exact && q.SortBy == nil {
		n := min(len(p.ids), w.count) // the most the page can take
		w.ids, w.recs = make([]string, 0, n), make([]*record, 0, n)
		for _, id := range p.ids {
			var r *record
			if l.hinted != nil && id == l.hintedID {
				r = l.hinted // read by the plan as the page reads it
			}
			w.offer(id, r)
		}
		return nil
	}
	var es []entry
	err := l.each(ctx, p, func(id string, r *record) {
		if filter != nil && !l.match(filter, r) {
			return
		}
		if q.SortBy == nil {
			w.offer(id, r)
			return
		}
		es = append(es, entry{key: l.sortKey(r, *q.SortBy), id: id})
	})
	if err != nil || q.SortBy == nil {
		return err
	}
	w.sorted(es)
	return nil
}

// fillAll pages an unfiltered list ordered by id: the total from the
// counter, the page by seeking and skipping over keys, reading only the
// page's values (their resources as stored JSON when raw, see
// decodeRecordRaw).
func (l *lister) fillAll(ctx context.Context, w *window, raw bool) error {
	decode := decodeRecord
	if raw {
		decode = decodeRecordRaw
	}
	l.stats.points++
	n, err := readCounter(badgerReader{l.txn}, countKey(l.tenant, l.typ))
	if err != nil {
		return err
	}
	w.total = int(n)
	if w.count == 0 {
		return nil
	}
	prefix := typePrefix(l.tenant, l.typ)
	it := l.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	skip := w.skip
	start := prefix
	if w.useCursor {
		skip = 0
		if w.after != nil {
			start = appendStr(append([]byte(nil), prefix...), w.after.id)
		}
	}
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		if skip > 0 {
			skip-- // a deep startIndex skips many keys
			if err := l.visitSkipped(ctx); err != nil {
				return err
			}
			continue
		}
		if w.after != nil && w.useCursor && bytes.Equal(it.Item().Key(), start) {
			continue // the cursor's own resource
		}
		if len(w.ids) == w.count {
			w.more = true
			break
		}
		id, ok := lastStr(it.Item().Key(), prefix)
		if !ok {
			return fmt.Errorf("malformed resource key %q", it.Item().Key())
		}
		var r *record
		err := it.Item().Value(func(v []byte) error {
			var err error
			r, err = decode(v)
			return err
		})
		if err != nil {
			return err
		}
		w.add(id, r)
	}
	return nil
}

// each calls fn with every candidate of p in id order, or with every
// resource of the type when p is nil. It stops with ctx's error soon after
// ctx is done (visitRecord).
func (l *lister) each(ctx context.Context, p *plan, fn func(id string, r *record)) error {
	if p != nil {
		for _, id := range p.ids {
			if err := l.visitRecord(ctx); err != nil {
				return err
			}
			r, err := loadRecord(badgerReader{l.txn}, resourceKey(l.tenant, l.typ, id))
			if err != nil {
				return err
			}
			if r != nil {
				fn(id, r)
			}
		}
		return nil
	}
	prefix := typePrefix(l.tenant, l.typ)
	it := l.txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if err := l.visitRecord(ctx); err != nil {
			return err
		}
		item := it.Item()
		id, ok := lastStr(item.Key(), prefix)
		if !ok {
			return fmt.Errorf("malformed resource key %q", item.Key())
		}
		var r *record
		err := item.Value(func(v []byte) error {
			var err error
			r, err = decodeRecord(v)
			return err
		})
		if err != nil {
			return err
		}
		fn(id, r)
	}
	return nil
}
