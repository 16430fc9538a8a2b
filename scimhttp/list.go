package scimhttp

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// maxCursorLength bounds a cursor before it reaches the projection.
const maxCursorLength = 1024

// listResponse is the ListResponse message (RFC 7644 §3.4.2). Resources is
// never null; startIndex is absent with cursor pagination (RFC 9865).
type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   *int     `json:"startIndex,omitempty"`
	ItemsPerPage int      `json:"itemsPerPage"`
	NextCursor   string   `json:"nextCursor,omitempty"`
	Resources    []any    `json:"Resources"`
}

func newListResponse(total int, startIndex *int, resources []any) listResponse {
	if resources == nil {
		resources = []any{}
	}
	return listResponse{
		Schemas:      []string{schemas.URNListResponse},
		TotalResults: total,
		StartIndex:   startIndex,
		ItemsPerPage: len(resources),
		Resources:    resources,
	}
}

// listRequest is a list or search request, from query parameters or from a
// SearchRequest body, before it is checked against a resource type.
type listRequest struct {
	attributes, excluded string
	filter               string
	sortBy, sortOrder    string
	startIndex           *int
	count                *int
	cursor               *string
}

func listRequestFromParams(p params) (listRequest, error) {
	lr := listRequest{
		attributes: p.get("attributes"),
		excluded:   p.get("excludedattributes"),
		filter:     p.get("filter"),
		sortBy:     p.get("sortby"),
		sortOrder:  p.get("sortorder"),
	}
	for _, f := range []struct {
		name, key string
		dst       **int
	}{{"startIndex", "startindex", &lr.startIndex}, {"count", "count", &lr.count}} {
		if v := p.get(f.key); v != "" {
			n, err := parseInt(f.name, v)
			if err != nil {
				return listRequest{}, err
			}
			*f.dst = &n
		}
	}
	if p.has("cursor") {
		c := p.get("cursor")
		lr.cursor = &c
	}
	return lr, nil
}

// searchRequest is the SearchRequest message (RFC 7644 §3.4.3). Integers
// may arrive as JSON strings.
type searchRequest struct {
	Attributes         []string `json:"attributes"`
	ExcludedAttributes []string `json:"excludedAttributes"`
	Filter             string   `json:"filter"`
	SortBy             string   `json:"sortBy"`
	SortOrder          string   `json:"sortOrder"`
	StartIndex         *flexInt `json:"startIndex"`
	Count              *flexInt `json:"count"`
	Cursor             *string  `json:"cursor"`
}

type flexInt struct{ raw string }

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var v any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return err
	}
	switch v := v.(type) {
	case json.Number:
		f.raw = v.String()
	case string:
		f.raw = v
	case nil:
	default:
		return schemas.Errorf(schemas.KindInvalidValue, "expected an integer")
	}
	return nil
}

func listRequestFromBody(body []byte) (listRequest, error) {
	var sr searchRequest
	if err := json.Unmarshal(body, &sr); err != nil {
		return listRequest{}, &schemas.Error{Kind: schemas.KindInvalidSyntax, Detail: "the body is not a SearchRequest", Err: err}
	}
	lr := listRequest{
		attributes: strings.Join(sr.Attributes, ","),
		excluded:   strings.Join(sr.ExcludedAttributes, ","),
		filter:     sr.Filter,
		sortBy:     sr.SortBy,
		sortOrder:  sr.SortOrder,
		cursor:     sr.Cursor,
	}
	for _, f := range []struct {
		name string
		src  *flexInt
		dst  **int
	}{{"startIndex", sr.StartIndex, &lr.startIndex}, {"count", sr.Count, &lr.count}} {
		if f.src != nil && f.src.raw != "" {
			n, err := parseInt(f.name, f.src.raw)
			if err != nil {
				return listRequest{}, err
			}
			*f.dst = &n
		}
	}
	return lr, nil
}

// paging applies RFC 7644 §3.4.2.4: startIndex below 1 is 1, a negative
// count is 0, an absent one the default page size, and no count exceeds the
// maxResults we advertise.
func (s *Server) paging(lr listRequest) (startIndex, count int) {
	startIndex, count = 1, s.opts.DefaultPageSize
	if lr.startIndex != nil && *lr.startIndex > 1 {
		startIndex = *lr.startIndex
	}
	if lr.count != nil {
		count = min(max(*lr.count, 0), s.opts.MaxPageSize)
	}
	return startIndex, count
}

// parseFilter parses and bounds a filter; "" means none.
func (s *Server) parseFilter(f string) (schemas.Expr, error) {
	if strings.TrimSpace(f) == "" {
		return nil, nil
	}
	if len(f) > s.opts.MaxFilterLength {
		return nil, schemas.Errorf(schemas.KindInvalidFilter, "the filter is longer than %d bytes", s.opts.MaxFilterLength)
	}
	return schemas.ParseFilter(f)
}

func parseSortOrder(o string) (descending bool, err error) {
	switch {
	case o == "", strings.EqualFold(o, "ascending"):
		return false, nil
	case strings.EqualFold(o, "descending"):
		return true, nil
	}
	return false, schemas.Errorf(schemas.KindInvalidValue, `sortOrder must be "ascending" or "descending"`)
}

// sortPath resolves sortBy against rt to its canonical path.
func sortPath(rt *schemas.ResourceType, sortBy string) (*schemas.AttrPath, error) {
	if strings.TrimSpace(sortBy) == "" {
		return nil, nil
	}
	p, err := schemas.ParsePath(strings.TrimSpace(sortBy))
	if err != nil || p.Filter != nil {
		return nil, schemas.Errorf(schemas.KindInvalidValue, "sortBy is not an attribute path")
	}
	_, canon, ok := rt.Lookup(p.Attr)
	if !ok {
		return nil, schemas.Errorf(schemas.KindInvalidValue, "sortBy names an attribute %s does not have", rt.Name)
	}
	return &canon, nil
}

// query checks a list request against one resource type and builds the
// projection's query and the selection to render with.
func (s *Server) query(rt *schemas.ResourceType, lr listRequest) (view.Query, schemas.Selection, error) {
	sel, err := rt.ParseSelection(lr.attributes, lr.excluded)
	if err != nil {
		return view.Query{}, schemas.Selection{}, err
	}
	filter, err := s.parseFilter(lr.filter)
	if err != nil {
		return view.Query{}, schemas.Selection{}, err
	}
	if filter != nil {
		if err := rt.CheckFilter(filter); err != nil {
			return view.Query{}, schemas.Selection{}, err
		}
	}
	sortBy, err := sortPath(rt, lr.sortBy)
	if err != nil {
		return view.Query{}, schemas.Selection{}, err
	}
	desc, err := parseSortOrder(lr.sortOrder)
	if err != nil {
		return view.Query{}, schemas.Selection{}, err
	}
	q := view.Query{Filter: filter, SortBy: sortBy, Descending: desc, Get: readOptions(rt, sel)}
	q.StartIndex, q.Count = s.paging(lr)
	if lr.cursor != nil {
		if len(*lr.cursor) > maxCursorLength {
			return view.Query{}, schemas.Selection{}, schemas.Errorf(schemas.KindInvalidCursor, "the cursor is not valid")
		}
		q.UseCursor, q.Cursor = true, *lr.cursor
	}
	return q, sel, nil
}

// handleList is GET /<Resources> (RFC 7644 §3.4.2).
func (s *Server) handleList(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r)
	if err != nil {
		return err
	}
	lr, err := listRequestFromParams(p)
	if err != nil {
		return err
	}
	return s.list(rt, lr, w, r)
}

// handleSearch is POST /<Resources>/.search (RFC 7644 §3.4.3).
func (s *Server) handleSearch(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	lr, err := listRequestFromBody(body)
	if err != nil {
		return err
	}
	return s.list(rt, lr, w, r)
}

func (s *Server) list(rt *schemas.ResourceType, lr listRequest, w http.ResponseWriter, r *http.Request) error {
	q, sel, err := s.query(rt, lr)
	if err != nil {
		return err
	}
	page, err := s.r.List(r.Context(), tenant(r), rt.Name, q)
	if err != nil {
		return err
	}
	base := s.baseURL(r)
	lw := s.newListWriter()
	for _, st := range page.Resources {
		lw.add(base, rt, st, sel)
	}
	var start *int
	if !q.UseCursor {
		start = &q.StartIndex
	}
	lw.write(w, page.Total, start, page.NextCursor)
	return nil
}

// handleRootSearch is POST /.search (RFC 7644 §3.4.3): every resource type,
// grouped by type in registry order. A filter or sortBy naming attributes
// one type lacks excludes that type (its resources cannot match) or leaves
// it unsorted; it is an error only when no type knows them.
func (s *Server) handleRootSearch(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	lr, err := listRequestFromBody(body)
	if err != nil {
		return err
	}
	if lr.cursor != nil {
		return schemas.Errorf(schemas.KindInvalidValue, "cursor pagination is not supported across resource types; search one type")
	}
	type typed struct {
		rt  *schemas.ResourceType
		q   view.Query
		sel schemas.Selection
	}
	var (
		plans    []typed
		firstErr error
	)
	for _, rt := range s.reg.ResourceTypes() {
		one := lr
		if _, err := sortPath(rt, lr.sortBy); err != nil {
			one.sortBy = ""
		}
		q, sel, err := s.query(rt, one)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		plans = append(plans, typed{rt, q, sel})
	}
	if len(plans) == 0 {
		return firstErr
	}
	if lr.sortBy != "" {
		known := false
		for _, pl := range plans {
			known = known || pl.q.SortBy != nil
		}
		if !known {
			_, err := sortPath(plans[0].rt, lr.sortBy)
			return err
		}
	}
	startIndex, count := s.paging(lr)
	skip, need, total := startIndex-1, count, 0
	base := s.baseURL(r)
	lw := s.newListWriter()
	for _, pl := range plans {
		pl.q.StartIndex, pl.q.Count = skip+1, need
		page, err := s.r.List(r.Context(), tenant(r), pl.rt.Name, pl.q)
		if err != nil {
			return err
		}
		total += page.Total
		for _, st := range page.Resources[:min(len(page.Resources), need)] {
			lw.add(base, pl.rt, st, pl.sel)
		}
		need -= min(len(page.Resources), need)
		skip = max(skip-page.Total, 0)
	}
	lw.write(w, total, &startIndex, "")
	return nil
}
