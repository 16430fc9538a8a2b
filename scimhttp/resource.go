package scimhttp

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// tenant is the authenticated tenant; the middleware guarantees one.
func tenant(r *http.Request) string {
	t, _ := TenantFromContext(r.Context())
	return t
}

// writeRequest is the bridge's Request for a write of rt by r with the
// given method, resource id ("" for a POST), If-Match header and body (nil
// for a DELETE), all as received: it carries the tenant and its
// strictness, the request id, the parsed If-Match and the request's digest
// (bridge.RequestDigest).
func (s *Server) writeRequest(r *http.Request, method string, rt *schemas.ResourceType, id, ifMatch string, body []byte) bridge.Request {
	req := bridge.Request{
		Tenant:    tenant(r),
		RequestID: RequestIDFromContext(r.Context()),
		IfMatch:   schemas.ParseETags(ifMatch),
	}
	req.Digest = bridge.RequestDigest(req.Tenant, method, rt.Name, id, ifMatch, body)
	if st := stateFrom(r.Context()); st != nil {
		req.Strict = st.strict
	}
	return req
}

// noteIgnored counts what a successful write of rt ignored, by tenant,
// resource type and kind, and keeps it for the audit line.
func (s *Server) noteIgnored(r *http.Request, rt *schemas.ResourceType, lists ...[]schemas.Ignored) {
	st := stateFrom(r.Context())
	if st == nil {
		return
	}
	for _, ig := range lists {
		st.ignored = append(st.ignored, ig...)
		for _, x := range ig {
			s.metrics.ignored.WithLabelValues(st.tenant, rt.Name, string(x.Kind)).Inc()
		}
	}
}

// handleGet is GET /<Resources>/{id} (RFC 7644 §3.4.1).
func (s *Server) handleGet(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r)
	if err != nil {
		return err
	}
	sel, err := p.selection(rt)
	if err != nil {
		return err
	}
	st, err := s.r.Get(r.Context(), tenant(r), rt.Name, mux.Vars(r)["id"], readOptions(rt, sel))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", schemas.ETag(st.Version))
	if schemas.ParseETags(r.Header.Get("If-None-Match")).Matches(st.Version) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	s.writeResource(w, r, http.StatusOK, rt, st, sel)
	return nil
}

// handleCreate is POST /<Resources> (RFC 7644 §3.3): 201, Location and the
// full resource.
func (s *Server) handleCreate(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) error {
	in, err := s.writeInput(rt, w, r)
	if err != nil {
		return err
	}
	a, err := s.create(r, rt, r.Header.Get("If-Match"), in.body, readOptions(rt, in.sel))
	if err != nil {
		return err
	}
	return s.writeWritten(w, r, http.StatusCreated, rt, a, in.sel)
}

// handleReplace is PUT /<Resources>/{id} (RFC 7644 §3.5.1): 200 and the
// resource.
func (s *Server) handleReplace(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) error {
	in, err := s.writeInput(rt, w, r)
	if err != nil {
		return err
	}
	a, err := s.replace(r, rt, mux.Vars(r)["id"], r.Header.Get("If-Match"), in.body, readOptions(rt, in.sel))
	if err != nil {
		return err
	}
	return s.writeWritten(w, r, http.StatusOK, rt, a, in.sel)
}

// handlePatch is PATCH /<Resources>/{id} (RFC 7644 §3.5.2). A Group answers
// 204 unless the request asks for a projection; a User answers 200 and the
// user (see the package doc).
func (s *Server) handlePatch(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) error {
	in, err := s.writeInput(rt, w, r)
	if err != nil {
		return err
	}
	noContent := (rt.IsGroup() || s.opts.UserPatchNoContent) && !in.params.hasSelection()
	var answer view.GetOptions
	if !noContent {
		answer = readOptions(rt, in.sel)
	}
	a, err := s.patch(r, rt, mux.Vars(r)["id"], r.Header.Get("If-Match"), in.body, answer)
	if err != nil {
		return err
	}
	if noContent {
		// A 204 reads nothing back: never a group's members.
		w.Header().Set("ETag", schemas.ETag(a.Version))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return s.writeWritten(w, r, http.StatusOK, rt, a, in.sel)
}

// handleDelete is DELETE /<Resources>/{id} (RFC 7644 §3.6): 204.
func (s *Server) handleDelete(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) error {
	if err := s.delete(r, rt, mux.Vars(r)["id"], r.Header.Get("If-Match")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// The writes, as single requests and bulk operations run them: decode and
// bound what the body writes, identify the request by its bytes as
// received (writeRequest), hand the Writer the decoded values and note
// what the write ignored. ifMatch is the If-Match header as sent; answer
// is what the written resource is read back with (Applied.Stored): the
// members and groups the answer shows and, as for a GET, the stored JSON
// when the answer may be copied from it (readOptions); nothing for an
// answer without a body.

// create is POST: body decoded as a new resource of rt.
func (s *Server) create(r *http.Request, rt *schemas.ResourceType, ifMatch string, body []byte, answer view.GetOptions) (bridge.Applied, error) {
	req := s.writeRequest(r, http.MethodPost, rt, "", ifMatch, body)
	req.Answer = answer
	u := req.Unknowns()
	res, err := rt.DecodeWith(body, u)
	if err != nil {
		return bridge.Applied{}, err
	}
	a, err := s.w.Create(r.Context(), req, rt, res)
	if err != nil {
		return bridge.Applied{}, err
	}
	s.noteIgnored(r, rt, u.Ignored, a.Ignored)
	return a, nil
}

// replace is PUT of resource id: body decoded as its new attributes.
func (s *Server) replace(r *http.Request, rt *schemas.ResourceType, id, ifMatch string, body []byte, answer view.GetOptions) (bridge.Applied, error) {
	req := s.writeRequest(r, http.MethodPut, rt, id, ifMatch, body)
	req.Answer = answer
	u := req.Unknowns()
	res, err := rt.DecodeWith(body, u)
	if err != nil {
		return bridge.Applied{}, err
	}
	a, err := s.w.Replace(r.Context(), req, rt, id, res)
	if err != nil {
		return bridge.Applied{}, err
	}
	s.noteIgnored(r, rt, u.Ignored, a.Ignored)
	return a, nil
}

// patch is PATCH of resource id: body parsed as at most
// Options.MaxPatchOps operations.
func (s *Server) patch(r *http.Request, rt *schemas.ResourceType, id, ifMatch string, body []byte, answer view.GetOptions) (bridge.Applied, error) {
	p, err := schemas.ParsePatch(body, s.opts.MaxPatchOps)
	if err != nil {
		return bridge.Applied{}, err
	}
	req := s.writeRequest(r, http.MethodPatch, rt, id, ifMatch, body)
	req.Answer = answer
	a, err := s.w.Patch(r.Context(), req, rt, id, p)
	if err != nil {
		return bridge.Applied{}, err
	}
	s.noteIgnored(r, rt, a.Ignored)
	return a, nil
}

// delete is DELETE of resource id.
func (s *Server) delete(r *http.Request, rt *schemas.ResourceType, id, ifMatch string) error {
	return s.w.Delete(r.Context(), s.writeRequest(r, http.MethodDelete, rt, id, ifMatch, nil), rt, id)
}

// writeInput is what every write with a body takes, parsed and bounded.
type writeInput struct {
	params params
	sel    schemas.Selection
	body   []byte
}

// writeInput parses what every write with a body takes: query parameters
// and the selection (checked before anything is written, so a bad
// parameter never follows a successful write) and the bounded body.
func (s *Server) writeInput(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) (writeInput, error) {
	p, err := parseParams(r)
	if err != nil {
		return writeInput{}, err
	}
	sel, err := p.selection(rt)
	if err != nil {
		return writeInput{}, err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return writeInput{}, err
	}
	return writeInput{params: p, sel: sel, body: body}, nil
}

// writeWritten answers a write with status and the resource it wrote, as
// the Writer read it back once the read model had applied the write
// (Applied.Stored, loaded with readOptions(rt, sel), as a GET reads it),
// with what sel selects; a POST's answer carries its Location.
func (s *Server) writeWritten(w http.ResponseWriter, r *http.Request, status int, rt *schemas.ResourceType, a bridge.Applied, sel schemas.Selection) error {
	st := a.Stored
	if status == http.StatusCreated {
		w.Header().Set("Location", location(s.baseURL(r), rt, a.ID))
	}
	s.writeResource(w, r, status, rt, st, sel)
	return nil
}

// writeResource answers one resource with its ETag.
func (s *Server) writeResource(w http.ResponseWriter, r *http.Request, status int, rt *schemas.ResourceType, st view.Stored, sel schemas.Selection) {
	w.Header().Set("ETag", schemas.ETag(st.Version))
	e := getEncoder()
	defer putEncoder(e)
	s.appendResource(e, s.baseURL(r), rt, st, sel)
	s.writeEncoded(w, status, e.err, e.buf)
}
