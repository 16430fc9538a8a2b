package scimhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

// Bulk (RFC 7644 §3.7). A bulk request's operations run one after another
// through the same Writer as single requests, each one atomic on its own
// and validated against the state the ones before it left; the request as
// a whole is not atomic: what ran stays when a later operation fails.
//
// They run in the order given, except that a POST runs just before the
// first operation that references it ("bulkId:<id>" as the id in a path,
// or as a whole string value anywhere in "data"), after the POSTs it
// references itself. Operations whose references form a cycle are not
// resolved (RFC 7644 §3.7.1 allows answering 409 instead), nor is an
// operation that references a POST that failed: each is answered 409.
//
// A failed operation does not stop the others unless failOnErrors is
// reached, the log is unavailable (503: the rest would fail alike) or the
// client is gone. The response lists the operations that ran, in the order
// of the request; the others are left out.

// bulkResult is one element of a BulkResponse's "Operations" (RFC 7644
// §3.7.3). A success carries no "response" (the RFC lets the server omit
// it); a failure carries the SCIM error.
type bulkResult struct {
	Location string     `json:"location,omitempty"`
	Method   string     `json:"method,omitempty"`
	BulkID   string     `json:"bulkId,omitempty"`
	Version  string     `json:"version,omitempty"`
	Status   string     `json:"status"`
	Response *errorBody `json:"response,omitempty"`

	id string // the resource's id, when known, for the audit line
}

type bulkResponse struct {
	Schemas    []string      `json:"schemas"`
	Operations []*bulkResult `json:"Operations"`
}

// handleBulk is POST /Bulk (RFC 7644 §3.7): 200 with a BulkResponse once
// the request is a valid BulkRequest, whatever its operations answered.
func (s *Server) handleBulk(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readRawBody(w, r) // checked as readBody would, naming the BulkRequest
	if schemas.KindOf(err) == schemas.KindTooLarge {
		// RFC 7644 §3.7.4: the error names the limit exceeded.
		return schemas.Errorf(schemas.KindTooLarge, "the bulk request exceeds maxPayloadSize (%d bytes)", s.opts.MaxBodyBytes)
	}
	if err != nil {
		return err
	}
	if err := s.checkBody(r, body, "the BulkRequest"); err != nil {
		return err
	}
	tbl, policy := s.policy(tenant(r))
	req, err := parseBulkRequest(body, s.maxBulkOps(policy.RateLimit), s.reg)
	if err != nil {
		return err
	}
	// Every operation is a write that costs the tenant's rate limit one
	// request, as it would sent alone; the middleware took the first.
	if n := len(req.ops); n > 1 && !s.rateLimit(w, tbl, tenant(r), policy.RateLimit, n-1) {
		return nil
	}
	results, err := s.runBulk(r, req)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, bulkResponse{Schemas: []string{URNBulkResponse}, Operations: results})
	return nil
}

// maxBulkOps is the most operations a bulk request of a tenant with rate
// limit rl may hold, as /ServiceProviderConfig advertises to it:
// Options.MaxBulkOps, or the tenant's burst when that is smaller, since
// every operation takes a request from the tenant's bucket.
func (s *Server) maxBulkOps(rl tenants.RateLimit) int {
	if !rl.IsZero() && rl.Burst < s.opts.MaxBulkOps {
		return max(rl.Burst, 1)
	}
	return s.opts.MaxBulkOps
}

// Visit states of a bulk operation.
const (
	bulkPending uint8 = iota
	bulkVisiting
	bulkDone
)

// bulkRun runs the operations of one bulk request.
type bulkRun struct {
	s    *Server
	r    *http.Request
	base string
	req  bulkRequest

	deps    [][]int // the POSTs each operation references, by index
	state   []uint8
	stack   []int  // the operations being visited, innermost last
	cyclic  []bool // in a cycle of references
	results []*bulkResult
	created []string // the id each successful POST created
	errors  int
	stop    bool
	err     error // the client went away
}

// runBulk runs req's operations and returns their results in request
// order, or the context's error when the client went away.
func (s *Server) runBulk(r *http.Request, req bulkRequest) ([]*bulkResult, error) {
	n := len(req.ops)
	run := &bulkRun{s: s, r: r, base: s.baseURL(r), req: req,
		deps: make([][]int, n), state: make([]uint8, n), cyclic: make([]bool, n),
		results: make([]*bulkResult, n), created: make([]string, n)}
	for i, op := range req.ops {
		if op.err != nil {
			continue // it runs nothing, so it waits for nothing
		}
		for _, ref := range op.refs {
			run.deps[i] = append(run.deps[i], req.posts[ref])
		}
		slices.Sort(run.deps[i])
	}
	for i := range req.ops {
		if run.stop {
			break
		}
		run.visit(i)
	}
	if run.err != nil {
		return nil, run.err
	}
	out := make([]*bulkResult, 0, n)
	for _, res := range run.results {
		if res != nil {
			out = append(out, res)
		}
	}
	return out, nil
}

// visit runs operation i after the POSTs it references (depth first). A
// reference back to an operation still being visited closes a cycle: every
// operation on the stack from that one up is in it.
func (run *bulkRun) visit(i int) {
	if run.state[i] != bulkPending {
		return
	}
	run.state[i] = bulkVisiting
	run.stack = append(run.stack, i)
	for _, d := range run.deps[i] {
		switch run.state[d] {
		case bulkPending:
			run.visit(d)
		case bulkVisiting:
			for j := len(run.stack) - 1; j >= 0; j-- {
				run.cyclic[run.stack[j]] = true
				if run.stack[j] == d {
					break
				}
			}
		}
		if run.stop {
			return
		}
	}
	run.stack = run.stack[:len(run.stack)-1]
	run.state[i] = bulkDone
	run.exec(i)
}

// exec runs operation i and records its result.
func (run *bulkRun) exec(i int) {
	op := &run.req.ops[i]
	res := &bulkResult{Method: op.method, BulkID: op.bulkID}
	status, err := run.do(i, res)
	ctx := run.r.Context()
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		run.stop, run.err = true, err
		return
	}
	if err != nil {
		var scimType, detail string
		status, scimType, detail = run.s.classify(err)
		run.s.logError(run.r, status, err)
		res.Version = ""
		res.Response = &errorBody{Schemas: []string{schemas.URNError}, Status: strconv.Itoa(status), ScimType: scimType, Detail: detail}
		run.errors++
		fail := run.req.failOnErrors
		run.stop = fail > 0 && run.errors >= fail || status == http.StatusServiceUnavailable
	}
	res.Status = strconv.Itoa(status)
	run.results[i] = res
	st := stateFrom(ctx)
	tenant := ""
	if st != nil {
		tenant = st.tenant
		st.bulk = append(st.bulk, bulkAudit{Method: sanitizeMethod(op.method), ResourceID: res.id, Status: status})
	}
	run.s.metrics.bulkOps.WithLabelValues(sanitizeMethod(op.method), res.Status, tenant).Inc()
}

// do runs operation i: it resolves its references, then writes. It sets
// res's location (when the resource is known) and version, and returns the
// operation's HTTP status.
func (run *bulkRun) do(i int, res *bulkResult) (int, error) {
	op := &run.req.ops[i]
	if op.err != nil {
		return 0, op.err
	}
	if run.cyclic[i] {
		return 0, schemas.Errorf(schemas.KindConflict, "the bulkId references of this operation form a cycle, which is not resolved (RFC 7644 §3.7.1)")
	}
	ids := make(map[string]string, len(op.refs))
	for _, ref := range op.refs {
		p := run.req.posts[ref]
		if run.created[p] == "" {
			return 0, schemas.Errorf(schemas.KindConflict, "%s%s: the POST with that bulkId (Operations[%d]) failed", bulkRefPrefix, ref, p)
		}
		ids[ref] = run.created[p]
	}
	id := op.id
	if ref, ok := strings.CutPrefix(id, bulkRefPrefix); ok {
		id = ids[ref]
	}
	if op.method != http.MethodPost {
		res.id, res.Location = id, location(run.base, op.rt, id)
	}
	var body []byte
	if op.data != nil {
		var err error
		if body, err = json.Marshal(replaceBulkRefs(op.data, ids)); err != nil {
			return 0, fmt.Errorf("encode the data of Operations[%d]: %w", i, err)
		}
	}
	a, status, err := run.write(op, id, body)
	if err != nil {
		return 0, err
	}
	if op.method == http.MethodPost {
		run.created[i] = a.ID
		res.id, res.Location = a.ID, location(run.base, op.rt, a.ID)
	}
	if status != http.StatusNoContent {
		res.Version = schemas.ETag(a.Version)
	}
	return status, nil
}

// write runs operation op on resource id (of a POST: "") with body, its
// data as the operation's request body, as a single request would run,
// except that the operation's "version" is its If-Match. A success
// answers no body (RFC 7644 §3.7.3), so nothing is read back.
func (run *bulkRun) write(op *bulkOp, id string, body []byte) (bridge.Applied, int, error) {
	s, r := run.s, run.r
	switch op.method {
	case http.MethodPost:
		a, err := s.create(r, op.rt, "", body, view.GetOptions{})
		return a, http.StatusCreated, err
	case http.MethodPut:
		a, err := s.replace(r, op.rt, id, op.version, body, view.GetOptions{})
		return a, http.StatusOK, err
	case http.MethodPatch:
		a, err := s.patch(r, op.rt, id, op.version, body, view.GetOptions{})
		return a, http.StatusOK, err
	}
	return bridge.Applied{}, http.StatusNoContent, s.delete(r, op.rt, id, op.version)
}
