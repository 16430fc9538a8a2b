package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// SCIM message URNs (RFC 7643 §8.7.1, RFC 7644 §3.5.2).
const (
	urnUser    = "urn:ietf:params:scim:schemas:core:2.0:User"
	urnGroup   = "urn:ietf:params:scim:schemas:core:2.0:Group"
	urnPatchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// statusError is a response the tool did not expect.
type statusError struct {
	what   string
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: status %d: %s", e.what, e.status, e.body)
}

// retriable reports whether a seeding request is worth sending again: the
// service asked to come back later (429, 503 with Retry-After while the log
// is unavailable) or the connection broke.
func retriable(status int, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// send is do with retries for seeding: up to 8 attempts, backing off from
// 100ms to 5s. The body, if kept, is in rq.buf.
func (r *requester) send(ctx context.Context, method, url, auth string, body []byte, keep bool) (int, error) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		status, err := r.do(ctx, method, url, auth, body, keep)
		if attempt == 8 || !retriable(status, err) {
			return status, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (r *requester) bodyText() string {
	b := r.buf.Bytes()
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}

// userBody is a create as Entra ID sends it (docs/idp-quirks.md §1.1), minus the
// enterprise extension.
func userBody(userName, externalID, displayName string) []byte {
	type email struct {
		Primary bool   `json:"primary"`
		Type    string `json:"type"`
		Value   string `json:"value"`
	}
	b, _ := json.Marshal(struct {
		Schemas     []string          `json:"schemas"`
		ExternalID  string            `json:"externalId"`
		UserName    string            `json:"userName"`
		Active      bool              `json:"active"`
		DisplayName string            `json:"displayName"`
		Emails      []email           `json:"emails"`
		Name        map[string]string `json:"name"`
	}{
		Schemas:     []string{urnUser},
		ExternalID:  externalID,
		UserName:    userName,
		Active:      true,
		DisplayName: displayName,
		Emails:      []email{{Primary: true, Type: "work", Value: userName}},
		Name:        map[string]string{"givenName": "Load", "familyName": displayName},
	})
	return b
}

// createUser creates the tenant's j-th user, or finds it when it exists
// (409), so seeding can be run again after it was interrupted.
func createUser(ctx context.Context, rq *requester, base string, t *tenant, j int) (id string, existed bool, err error) {
	name := t.userName(j)
	body := userBody(name, "load-"+t.name+"-"+strconv.Itoa(j), "Load User "+strconv.Itoa(j))
	status, err := rq.send(ctx, http.MethodPost, base+"/Users", t.auth, body, true)
	switch {
	case err != nil:
		return "", false, fmt.Errorf("create user %d of tenant %s: %w", j, t.name, err)
	case status == http.StatusConflict:
		id, found, err := findOne(ctx, rq, base+"/Users", t.auth, `userName eq "`+name+`"`)
		if err == nil && !found {
			err = fmt.Errorf("409 on create, but no user of that userName")
		}
		if err != nil {
			return "", false, fmt.Errorf("find user %d of tenant %s: %w", j, t.name, err)
		}
		return id, true, nil
	case status != http.StatusCreated:
		return "", false, &statusError{fmt.Sprintf("create user %d of tenant %s", j, t.name), status, rq.bodyText()}
	}
	id, err = decodeID(rq.buf.Bytes())
	return id, false, err
}

// createGroup finds the tenant's k-th group by displayName, or creates it.
func createGroup(ctx context.Context, rq *requester, base string, t *tenant, k int) (string, error) {
	name := t.groupName(k)
	id, found, err := findOne(ctx, rq, base+"/Groups", t.auth, `displayName eq "`+name+`"`)
	if err != nil || found {
		return id, err
	}
	body, _ := json.Marshal(map[string]any{"schemas": []string{urnGroup}, "displayName": name, "members": []any{}})
	status, err := rq.send(ctx, http.MethodPost, base+"/Groups", t.auth, body, true)
	if err != nil {
		return "", fmt.Errorf("create group %s: %w", name, err)
	}
	if status != http.StatusCreated {
		return "", &statusError{"create group " + name, status, rq.bodyText()}
	}
	return decodeID(rq.buf.Bytes())
}

// memberPatch is a PATCH of a group's members with a value array, the shape
// Entra ID sends for adds and (without aadOptscim062020) removes.
func memberPatch(op string, ids []string) []byte {
	type member struct {
		Value string `json:"value"`
	}
	ms := make([]member, len(ids))
	for i, id := range ids {
		ms[i].Value = id
	}
	b, _ := json.Marshal(map[string]any{
		"schemas":    []string{urnPatchOp},
		"Operations": []any{map[string]any{"op": op, "path": "members", "value": ms}},
	})
	return b
}

// memberRemoveByFilter is a PATCH removing members with one operation per
// member whose path selects it by a filter (`members[value eq "…"]`,
// RFC 7644 §3.5.2.2), the shape Okta sends and Entra ID with
// aadOptscim062020; servers that refuse a remove carrying a value need it.
func memberRemoveByFilter(ids []string) []byte {
	ops := make([]any, len(ids))
	for i, id := range ids {
		lit, _ := json.Marshal(id) // a filter's string literal is a JSON string
		ops[i] = map[string]any{"op": "remove", "path": "members[value eq " + string(lit) + "]"}
	}
	b, _ := json.Marshal(map[string]any{"schemas": []string{urnPatchOp}, "Operations": ops})
	return b
}

// Member remove shapes (--member-remove).
const (
	removeByValue  = "value"
	removeByFilter = "filter"
)

// memberChange is the PATCH body that applies op ("add" or "remove") to the
// members ids, removing in the shape removeShape names.
func memberChange(op string, ids []string, removeShape string) []byte {
	if op == "remove" && removeShape == removeByFilter {
		return memberRemoveByFilter(ids)
	}
	return memberPatch(op, ids)
}

// findOne returns the id of the first resource at endpoint matching filter.
func findOne(ctx context.Context, rq *requester, endpoint, auth, filter string) (id string, found bool, err error) {
	u := endpoint + "?filter=" + url.QueryEscape(filter) + "&attributes=id"
	status, err := rq.send(ctx, http.MethodGet, u, auth, nil, true)
	if err != nil {
		return "", false, err
	}
	if status != http.StatusOK {
		return "", false, &statusError{"filter " + filter, status, rq.bodyText()}
	}
	var lr listPage
	if err := json.Unmarshal(rq.buf.Bytes(), &lr); err != nil {
		return "", false, fmt.Errorf("decode list response: %w", err)
	}
	if len(lr.Resources) == 0 {
		return "", false, nil
	}
	return lr.Resources[0].ID, true, nil
}

// listPage is the part of a ListResponse (RFC 7644 §3.4.2) the tool reads.
type listPage struct {
	TotalResults int    `json:"totalResults"`
	NextCursor   string `json:"nextCursor"`
	Resources    []struct {
		ID       string `json:"id"`
		UserName string `json:"userName"`
	} `json:"Resources"`
}

func decodeID(b []byte) (string, error) {
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return "", fmt.Errorf("decode created resource: %w", err)
	}
	if r.ID == "" {
		return "", fmt.Errorf("created resource has no id")
	}
	return r.ID, nil
}
