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

// writeRequest is what the bridge needs besides the body; get says what
// the returned resource must carry for the response (nothing for a 204).
// It carries the tenant's strictness, and counts what the write ignored
// and keeps it for the audit line.
func (s *Server) writeRequest(r *http.Request, rt *schemas.ResourceType, get view.GetOptions) bridge.Request {
	req := bridge.Request{
		Tenant:    tenant(r),
		RequestID: RequestIDFromContext(r.Context()),
		IfMatch:   r.Header.Get("If-Match"),
		Get:       get,
	}
	if st := stateFrom(r.Context()); st != nil {
		req.Strict = st.strict
		req.Ignored = func(ig []schemas.Ignored) {
			st.ignored = append(st.ignored, ig...)
			for _, x := range ig {
				s.metrics.ignored.WithLabelValues(req.Tenant, rt.Name, string(x.Kind)).Inc()
			}
		}
	}
	return req
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
	st, err := s.r.Get(r.Context(), tenant(r), rt.Name, mux.Vars(r)["id"], getOptions(rt, sel))
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
	_, sel, body, err := s.writeInput(rt, w, r)
	if err != nil {
		return err
	}
	st, err := s.w.Create(r.Context(), s.writeRequest(r, rt, getOptions(rt, sel)), rt, body)
	if err != nil {
		return err
	}
	w.Header().Set("Location", location(s.baseURL(r), rt, st.Resource.ID()))
	s.writeResource(w, r, http.StatusCreated, rt, st, sel)
	return nil
}

// handleReplace is PUT /<Resources>/{id} (RFC 7644 §3.5.1): 200 and the
// resource.
func (s *Server) handleReplace(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) error {
	_, sel, body, err := s.writeInput(rt, w, r)
	if err != nil {
		return err
	}
	st, err := s.w.Replace(r.Context(), s.writeRequest(r, rt, getOptions(rt, sel)), rt, mux.Vars(r)["id"], body)
	if err != nil {
		return err
	}
	s.writeResource(w, r, http.StatusOK, rt, st, sel)
	return nil
}

// handlePatch is PATCH /<Resources>/{id} (RFC 7644 §3.5.2). A Group answers
// 204 unless the request asks for a projection; a User answers 200 and the
// user (see the package doc).
func (s *Server) handlePatch(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) error {
	p, sel, body, err := s.writeInput(rt, w, r)
	if err != nil {
		return err
	}
	noContent := (rt.IsGroup() || s.opts.UserPatchNoContent) && !p.hasSelection()
	get := getOptions(rt, sel)
	if noContent {
		get = view.GetOptions{} // a 204 never loads a group's members
	}
	st, err := s.w.Patch(r.Context(), s.writeRequest(r, rt, get), rt, mux.Vars(r)["id"], body)
	if err != nil {
		return err
	}
	if noContent {
		w.Header().Set("ETag", schemas.ETag(st.Version))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	s.writeResource(w, r, http.StatusOK, rt, st, sel)
	return nil
}

// handleDelete is DELETE /<Resources>/{id} (RFC 7644 §3.6): 204.
func (s *Server) handleDelete(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) error {
	if err := s.w.Delete(r.Context(), s.writeRequest(r, rt, view.GetOptions{}), rt, mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// writeInput parses what every write takes: query parameters and the
// selection (checked before anything is written, so a bad parameter never
// follows a successful write) and the bounded body.
func (s *Server) writeInput(rt *schemas.ResourceType, w http.ResponseWriter, r *http.Request) (params, schemas.Selection, []byte, error) {
	p, err := parseParams(r)
	if err != nil {
		return nil, schemas.Selection{}, nil, err
	}
	sel, err := p.selection(rt)
	if err != nil {
		return nil, schemas.Selection{}, nil, err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, schemas.Selection{}, nil, err
	}
	return p, sel, body, nil
}

// writeResource answers one resource with its ETag.
func (s *Server) writeResource(w http.ResponseWriter, r *http.Request, status int, rt *schemas.ResourceType, st view.Stored, sel schemas.Selection) {
	w.Header().Set("ETag", schemas.ETag(st.Version))
	e := getEncoder()
	defer putEncoder(e)
	s.appendResource(e, s.baseURL(r), rt, st, sel)
	s.writeEncoded(w, status, e.err, e.buf)
}
