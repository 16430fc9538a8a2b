package scimhttp

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// params are a request's query parameters with lower-cased names: RFC 7644
// spells them in camel case, clients do not always. Both "+" and "%20"
// decode to a space (url.ParseQuery). Look names up in lower case
// (get("startindex")): strings.ToLower allocates for every other spelling.
type params map[string][]string

func parseParams(r *http.Request) (params, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		// A half-parsed query could silently drop a filter and list every
		// resource to an existence probe; refuse it instead.
		return nil, &schemas.Error{Kind: schemas.KindInvalidSyntax, Detail: "the query string is malformed", Err: err}
	}
	// Lower-case the names in place: most requests (a userName lookup,
	// a GET) name nothing in upper case, and then nothing is copied. A
	// name added here is lower case already, so meeting it again later in
	// the loop moves nothing.
	for k, v := range q {
		if lk := strings.ToLower(k); lk != k {
			delete(q, k)
			q[lk] = append(q[lk], v...)
		}
	}
	return params(q), nil
}

// get returns the first value of the parameter, or "". name is lower case.
func (p params) get(name string) string {
	if v := p[strings.ToLower(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// has reports whether the parameter is present, even empty. name is lower
// case.
func (p params) has(name string) bool {
	_, ok := p[strings.ToLower(name)]
	return ok
}

// selection parses attributes and excludedAttributes (RFC 7644 §3.9).
func (p params) selection(rt *schemas.ResourceType) (schemas.Selection, error) {
	return rt.ParseSelection(p.get("attributes"), p.get("excludedattributes"))
}

// hasSelection reports whether the request asks for a projection.
func (p params) hasSelection() bool {
	return p.get("attributes") != "" || p.get("excludedattributes") != ""
}

// parseInt parses an integer parameter; values beyond int range are
// clamped, since every caller clamps them further anyway.
func parseInt(name, s string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			if strings.HasPrefix(strings.TrimSpace(s), "-") {
				return -1, nil
			}
			return int(^uint(0) >> 1), nil
		}
		return 0, schemas.Errorf(schemas.KindInvalidValue, "%s must be an integer", name)
	}
	if n > int64(int(^uint(0)>>1)) {
		return int(^uint(0) >> 1), nil
	}
	if n < 0 {
		return -1, nil
	}
	return int(n), nil
}
