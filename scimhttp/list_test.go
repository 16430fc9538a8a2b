package scimhttp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// seedUsers adds n users u01..un with userNames user01@example.com...
func seedUsers(ts *testServer, n int) {
	for i := 1; i <= n; i++ {
		ts.put("default", "User", schemas.Resource{
			"id":       fmt.Sprintf("u%02d", i),
			"userName": fmt.Sprintf("user%02d@example.com", i),
			"schemas":  []any{schemas.URNUser},
		})
	}
}

// checkList checks the ListResponse shape and returns the ids returned.
func checkList(t *testing.T, body map[string]any, wantTotal, wantStart int) []string {
	t.Helper()
	if !equalJSON(body["schemas"], []any{schemas.URNListResponse}) {
		t.Errorf("schemas = %v, want [%s]", body["schemas"], schemas.URNListResponse)
	}
	for _, k := range []string{"totalResults", "itemsPerPage"} {
		if _, ok := body[k].(json.Number); !ok {
			t.Errorf("%s = %#v, want a JSON integer", k, body[k])
		}
	}
	if got := body["totalResults"]; got != json.Number(fmt.Sprint(wantTotal)) {
		t.Errorf("totalResults = %v, want %d", got, wantTotal)
	}
	if wantStart > 0 {
		if got := body["startIndex"]; got != json.Number(fmt.Sprint(wantStart)) {
			t.Errorf("startIndex = %#v, want %d", got, wantStart)
		}
	} else if _, ok := body["startIndex"]; ok {
		t.Errorf("startIndex present with cursor pagination: %v", body["startIndex"])
	}
	res, ok := body["Resources"].([]any)
	if !ok {
		t.Fatalf("Resources = %#v, want an array (never null)", body["Resources"])
	}
	if got := body["itemsPerPage"]; got != json.Number(fmt.Sprint(len(res))) {
		t.Errorf("itemsPerPage = %v, want %d (the number returned)", got, len(res))
	}
	var ids []string
	for _, r := range res {
		id, _ := r.(map[string]any)["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

func TestServer_List(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		wantTotal int
		wantStart int
		wantIDs   string
		wantCount int // count the store was asked for
	}{
		{"Default", "", 5, 1, "u01,u02,u03", 3},
		{"Page", "?startIndex=2&count=2", 5, 2, "u02,u03", 2},
		{"StartIndexZero", "?startIndex=0&count=1", 5, 1, "u01", 1},
		{"StartIndexNegative", "?startIndex=-4&count=1", 5, 1, "u01", 1},
		{"CountZeroTotalsOnly", "?count=0", 5, 1, "", 0},
		{"CountNegative", "?count=-3", 5, 1, "", 0},
		{"CountCapped", "?count=5000", 5, 1, "u01,u02,u03,u04,u05", 10},
		{"CountHuge", "?count=99999999999999999999999", 5, 1, "u01,u02,u03,u04,u05", 10},
		{"PastTheEnd", "?startIndex=50", 5, 50, "", 3},
		{"CaseInsensitiveNames", "?STARTINDEX=3&Count=1", 5, 3, "u03", 1},
		{"UnknownParameterIgnored", "?aadOptscim062020&count=1", 5, 1, "u01", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{DefaultPageSize: 3, MaxPageSize: 10})
			seedUsers(ts, 5)
			rec := ts.do(http.MethodGet, "/scim/v2/Users"+tt.query, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("GET status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			ids := checkList(t, decode(t, rec), tt.wantTotal, tt.wantStart)
			if got := strings.Join(ids, ","); got != tt.wantIDs {
				t.Errorf("ids = %q, want %q", got, tt.wantIDs)
			}
			if got := ts.store.lastQuery.Count; got != tt.wantCount {
				t.Errorf("Query.Count = %d, want %d", got, tt.wantCount)
			}
		})
	}
}

// A page small enough to go out in one Write and one that is not both
// arrive whole: valid JSON, every resource, Content-Length the body's.
func TestServer_ListResponseWrites(t *testing.T) {
	ts := newTestServer(t, Options{MaxPageSize: 1000})
	seedUsers(ts, 400)
	for _, count := range []int{1, 400} {
		rec := ts.do(http.MethodGet, fmt.Sprintf("/scim/v2/Users?count=%d", count), "")
		if rec.Code != http.StatusOK {
			t.Fatalf("count=%d: status = %d, want 200; body %.300s", count, rec.Code, rec.Body)
		}
		if got, want := rec.Header().Get("Content-Length"), strconv.Itoa(rec.Body.Len()); got != want {
			t.Errorf("count=%d: Content-Length = %s, want %s", count, got, want)
		}
		if count > 1 && rec.Body.Len() <= maxOneWrite {
			t.Fatalf("count=%d: body of %d bytes, want more than %d to send it in parts", count, rec.Body.Len(), maxOneWrite)
		}
		if ids := checkList(t, decode(t, rec), 400, 1); len(ids) != count {
			t.Errorf("count=%d: %d resources, want %d", count, len(ids), count)
		}
	}
}

func TestServer_ListEmptyJSON(t *testing.T) {
	ts := newTestServer(t, Options{})
	rec := ts.do(http.MethodGet, "/scim/v2/Groups", "")
	want := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}`
	if got := rec.Body.String(); got != want {
		t.Errorf("GET /Groups body = %s, want %s", got, want)
	}
	if got := rec.Header().Get("Content-Type"); got != ContentType {
		t.Errorf("Content-Type = %q, want %q", got, ContentType)
	}
}

func TestServer_ListErrors(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		scimType string
	}{
		{"CountNotInteger", "?count=ten", "invalidValue"},
		{"StartIndexNotInteger", "?startIndex=1.5", "invalidValue"},
		{"FilterSyntax", "?filter=" + urlEscape(`userName eq`), "invalidFilter"},
		{"FilterUnknownAttribute", "?filter=" + urlEscape(`nope eq "x"`), "invalidFilter"},
		{"FilterTooLong", "?filter=" + urlEscape(`userName eq "`+strings.Repeat("a", 100)+`"`), "invalidFilter"},
		{"SortOrder", "?sortBy=userName&sortOrder=sideways", "invalidValue"},
		{"SortByUnknown", "?sortBy=nope", "invalidValue"},
		{"Cursor", "?cursor=garbage", "invalidCursor"},
		{"CursorTooLong", "?cursor=" + strings.Repeat("c", 2000), "invalidCursor"},
		{"Attributes", "?attributes=user%20Name", "invalidValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{MaxFilterLength: 64})
			seedUsers(ts, 1)
			checkError(t, ts.do(http.MethodGet, "/scim/v2/Users"+tt.query, ""), http.StatusBadRequest, tt.scimType)
		})
	}
}

func urlEscape(s string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22", "@", "%40").Replace(s)
}

func TestServer_ListSort(t *testing.T) {
	ts := newTestServer(t, Options{})
	seedUsers(ts, 2)
	rec := ts.do(http.MethodGet, "/scim/v2/Users?sortBy=USERNAME&sortOrder=Descending", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET status = %d, want 200; body %s", rec.Code, rec.Body)
	}
	q := ts.store.lastQuery
	if q.SortBy == nil || q.SortBy.Name != "userName" || !q.Descending {
		t.Errorf("Query sort = %+v desc=%v, want userName descending", q.SortBy, q.Descending)
	}
}

// Every list parameter is found however its name is spelled: camel case
// as RFC 7644 writes it, all lower case, all upper case.
func TestServer_ListParameterNamesAnyCase(t *testing.T) {
	for _, spell := range []func(string) string{func(s string) string { return s }, strings.ToLower, strings.ToUpper} {
		ts := newTestServer(t, Options{})
		seedUsers(ts, 3)
		query := "?" + spell("filter") + "=" + urlEscape(`userName sw "u"`) + "&" + spell("sortBy") + "=userName&" +
			spell("sortOrder") + "=descending&" + spell("excludedAttributes") + "=groups&" + spell("startIndex") + "=2&" +
			spell("count") + "=1"
		rec := ts.do(http.MethodGet, "/scim/v2/Users"+query, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s status = %d, want 200; body %s", query, rec.Code, rec.Body)
		}
		q := ts.store.lastQuery
		if q.Filter == nil || q.SortBy == nil || !q.Descending || q.Get.Groups || q.StartIndex != 2 || q.Count != 1 {
			t.Errorf("GET %s: Query = %+v, want the filter, sortBy userName descending, no groups, startIndex 2, count 1", query, q)
		}
		rec = ts.do(http.MethodGet, "/scim/v2/Users?"+spell("attributes")+"=userName&"+spell("cursor")+"=", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET status = %d, want 200; body %s", rec.Code, rec.Body)
		}
		if q := ts.store.lastQuery; !q.UseCursor || q.Get.Groups {
			t.Errorf("attributes and cursor spelled %q: Query = %+v, want a cursor list without groups", spell("cursor"), q)
		}
	}
}

func TestServer_ListCursor(t *testing.T) {
	ts := newTestServer(t, Options{})
	seedUsers(ts, 3)
	var got []string
	cursor := ""
	for page := 0; page < 5; page++ {
		rec := ts.do(http.MethodGet, "/scim/v2/Users?count=2&cursor="+cursor, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET status = %d, want 200; body %s", rec.Code, rec.Body)
		}
		if !ts.store.lastQuery.UseCursor {
			t.Fatalf("Query.UseCursor = false with a cursor parameter")
		}
		body := decode(t, rec)
		got = append(got, checkList(t, body, 3, 0)...)
		next, _ := body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if want := "u01,u02,u03"; strings.Join(got, ",") != want {
		t.Errorf("paged ids = %q, want %q", strings.Join(got, ","), want)
	}
}

func TestServer_Search(t *testing.T) {
	tests := []struct {
		name      string
		target    string
		body      string
		status    int
		wantTotal int
		wantIDs   string
	}{
		{"Users", "/scim/v2/Users/.search",
			`{"schemas":["` + schemas.URNSearch + `"],"attributes":["userName"],"startIndex":2,"count":1}`,
			http.StatusOK, 3, "u02"},
		{"UsersStringIntegers", "/scim/v2/Users/.search", `{"startIndex":"1","count":"2"}`, http.StatusOK, 3, "u01,u02"},
		{"UsersFilter", "/scim/v2/Users/.search", `{"filter":"userName eq \"USER03@example.com\""}`, http.StatusOK, 1, "u03"},
		{"Groups", "/scim/v2/Groups/.search", `{}`, http.StatusOK, 1, "g1"},
		{"RootAll", "/scim/v2/.search", `{}`, http.StatusOK, 4, "u01,u02,u03,g1"},
		{"RootPageAcrossTypes", "/scim/v2/.search", `{"startIndex":3,"count":2}`, http.StatusOK, 4, "u03,g1"},
		{"RootSecondType", "/scim/v2/.search", `{"startIndex":4,"count":2}`, http.StatusOK, 4, "g1"},
		{"RootCountZero", "/scim/v2/.search", `{"count":0}`, http.StatusOK, 4, ""},
		{"RootFilterOneType", "/scim/v2/.search", `{"filter":"userName eq \"user01@example.com\""}`, http.StatusOK, 1, "u01"},
		{"RootFilterUnknown", "/scim/v2/.search", `{"filter":"nope eq \"x\""}`, http.StatusBadRequest, 0, ""},
		{"RootCursor", "/scim/v2/.search", `{"cursor":""}`, http.StatusBadRequest, 0, ""},
		{"NotJSON", "/scim/v2/Users/.search", `filter=x`, http.StatusBadRequest, 0, ""},
		{"WrongTypes", "/scim/v2/Users/.search", `{"count":true}`, http.StatusBadRequest, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			seedUsers(ts, 3)
			ts.put("default", "Group", schemas.Resource{"id": "g1", "displayName": "Sales", "schemas": []any{schemas.URNGroup}})
			rec := ts.do(http.MethodPost, tt.target, tt.body)
			if tt.status != http.StatusOK {
				if rec.Code != tt.status {
					t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
				}
				checkError(t, rec, tt.status, decode(t, rec)["scimType"].(string))
				return
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("POST %s status = %d, want 200; body %s", tt.target, rec.Code, rec.Body)
			}
			body := decode(t, rec)
			start := 1
			if s, ok := body["startIndex"].(json.Number); ok {
				n, _ := s.Int64()
				start = int(n)
			}
			ids := checkList(t, body, tt.wantTotal, start)
			if got := strings.Join(ids, ","); got != tt.wantIDs {
				t.Errorf("ids = %q, want %q", got, tt.wantIDs)
			}
			for _, r := range body["Resources"].([]any) {
				m := r.(map[string]any)
				wantSchema := schemas.URNUser
				if strings.HasPrefix(m["id"].(string), "g") {
					wantSchema = schemas.URNGroup
				}
				if !equalJSON(m["schemas"], []any{wantSchema}) {
					t.Errorf("resource %v schemas = %v, want [%s]", m["id"], m["schemas"], wantSchema)
				}
			}
		})
	}
}
