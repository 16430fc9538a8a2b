package scimhttp

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// Schema URNs of the discovery resources (RFC 7643 §8.7.2).
const (
	URNServiceProviderConfig = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	URNResourceType          = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	URNSchema                = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// The discovery endpoints (RFC 7644 §4) are generated from the registry and
// the options, so they say what the server does. Each requires a token like
// every other endpoint.

type supported struct {
	Supported bool `json:"supported"`
}

type serviceProviderConfig struct {
	Schemas               []string       `json:"schemas"`
	Patch                 supported      `json:"patch"`
	Bulk                  bulkConfig     `json:"bulk"`
	Filter                filterConfig   `json:"filter"`
	ChangePassword        supported      `json:"changePassword"`
	Sort                  supported      `json:"sort"`
	ETag                  supported      `json:"etag"`
	Pagination            paginationConf `json:"pagination"`
	AuthenticationSchemes []authScheme   `json:"authenticationSchemes"`
	Meta                  discoveryMeta  `json:"meta"`
}

type bulkConfig struct {
	Supported      bool `json:"supported"`
	MaxOperations  int  `json:"maxOperations"`
	MaxPayloadSize int  `json:"maxPayloadSize"`
}

type filterConfig struct {
	Supported  bool `json:"supported"`
	MaxResults int  `json:"maxResults"`
}

// paginationConf is the pagination attribute of RFC 9865 §4.
type paginationConf struct {
	Cursor                  bool   `json:"cursor"`
	Index                   bool   `json:"index"`
	DefaultPaginationMethod string `json:"defaultPaginationMethod"`
	DefaultPageSize         int    `json:"defaultPageSize"`
	MaxPageSize             int    `json:"maxPageSize"`
	CursorTimeout           int    `json:"cursorTimeout,omitempty"`
}

type authScheme struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Description string `json:"description"`
	SpecURI     string `json:"specUri"`
	Primary     bool   `json:"primary"`
}

type discoveryMeta struct {
	ResourceType string `json:"resourceType"`
	Location     string `json:"location"`
}

type resourceTypeDoc struct {
	Schemas          []string             `json:"schemas"`
	ID               string               `json:"id"`
	Name             string               `json:"name"`
	Endpoint         string               `json:"endpoint"`
	Description      string               `json:"description,omitempty"`
	Schema           string               `json:"schema"`
	SchemaExtensions []schemaExtensionDoc `json:"schemaExtensions"`
	Meta             discoveryMeta        `json:"meta"`
}

type schemaExtensionDoc struct {
	Schema   string `json:"schema"`
	Required bool   `json:"required"`
}

type schemaDoc struct {
	Schemas []string `json:"schemas"`
	*schemas.Schema
	Meta discoveryMeta `json:"meta"`
}

// noFilter refuses a filter on a discovery endpoint: RFC 7644 §4 asks for
// 403 so that a client cannot believe a filter it sent was applied.
func noFilter(r *http.Request) error {
	p, err := parseParams(r)
	if err != nil {
		return err
	}
	if p.has("filter") {
		return httpErrorf(http.StatusForbidden, "filtering is not supported on discovery endpoints")
	}
	return nil
}

// handleServiceProviderConfig is GET /ServiceProviderConfig (RFC 7643 §5).
func (s *Server) handleServiceProviderConfig(w http.ResponseWriter, r *http.Request) error {
	if err := noFilter(r); err != nil {
		return err
	}
	base := s.baseURL(r)
	_, policy := s.policy(tenant(r))
	s.writeJSON(w, http.StatusOK, serviceProviderConfig{
		Schemas:        []string{URNServiceProviderConfig},
		Patch:          supported{true},
		Bulk:           bulkConfig{Supported: true, MaxOperations: s.maxBulkOps(policy.RateLimit), MaxPayloadSize: int(s.opts.MaxBodyBytes)},
		Filter:         filterConfig{Supported: true, MaxResults: s.opts.MaxPageSize},
		ChangePassword: supported{false},
		Sort:           supported{true},
		ETag:           supported{true},
		Pagination: paginationConf{
			Cursor:                  true,
			Index:                   true,
			DefaultPaginationMethod: "index",
			DefaultPageSize:         s.opts.DefaultPageSize,
			MaxPageSize:             s.opts.MaxPageSize,
			CursorTimeout:           int(s.opts.CursorTimeout.Seconds()),
		},
		AuthenticationSchemes: []authScheme{{
			Type:        "oauthbearertoken",
			Name:        "OAuth Bearer Token",
			Description: "Authentication with a bearer token in the Authorization header (RFC 6750).",
			SpecURI:     "https://www.rfc-editor.org/info/rfc6750",
			Primary:     true,
		}},
		Meta: discoveryMeta{ResourceType: "ServiceProviderConfig", Location: base + "/ServiceProviderConfig"},
	})
	return nil
}

func (s *Server) resourceTypeDoc(base string, rt *schemas.ResourceType) resourceTypeDoc {
	exts := make([]schemaExtensionDoc, 0, len(rt.Extensions))
	for _, e := range rt.Extensions {
		exts = append(exts, schemaExtensionDoc{Schema: e.Schema.ID, Required: e.Required})
	}
	return resourceTypeDoc{
		Schemas:          []string{URNResourceType},
		ID:               rt.Name,
		Name:             rt.Name,
		Endpoint:         rt.Endpoint,
		Description:      rt.Description,
		Schema:           rt.Schema.ID,
		SchemaExtensions: exts,
		Meta:             discoveryMeta{ResourceType: "ResourceType", Location: base + "/ResourceTypes/" + rt.Name},
	}
}

func schemaDocOf(base string, sc *schemas.Schema) schemaDoc {
	return schemaDoc{
		Schemas: []string{URNSchema},
		Schema:  sc,
		Meta:    discoveryMeta{ResourceType: "Schema", Location: base + "/Schemas/" + sc.ID},
	}
}

// handleResourceTypes is GET /ResourceTypes (RFC 7644 §4).
func (s *Server) handleResourceTypes(w http.ResponseWriter, r *http.Request) error {
	if err := noFilter(r); err != nil {
		return err
	}
	base := s.baseURL(r)
	var docs []any
	for _, rt := range s.reg.ResourceTypes() {
		docs = append(docs, s.resourceTypeDoc(base, rt))
	}
	one := 1
	s.writeJSON(w, http.StatusOK, newListResponse(len(docs), &one, docs))
	return nil
}

// handleResourceType is GET /ResourceTypes/{name}.
func (s *Server) handleResourceType(w http.ResponseWriter, r *http.Request) error {
	rt, ok := s.reg.ResourceType(mux.Vars(r)["name"])
	if !ok {
		return schemas.Errorf(schemas.KindNotFound, "no such resource type")
	}
	s.writeJSON(w, http.StatusOK, s.resourceTypeDoc(s.baseURL(r), rt))
	return nil
}

// handleSchemas is GET /Schemas (RFC 7644 §4).
func (s *Server) handleSchemas(w http.ResponseWriter, r *http.Request) error {
	if err := noFilter(r); err != nil {
		return err
	}
	base := s.baseURL(r)
	var docs []any
	for _, sc := range s.reg.Schemas() {
		docs = append(docs, schemaDocOf(base, sc))
	}
	one := 1
	s.writeJSON(w, http.StatusOK, newListResponse(len(docs), &one, docs))
	return nil
}

// handleSchema is GET /Schemas/{id}; schema URNs match case-insensitively.
func (s *Server) handleSchema(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	for _, sc := range s.reg.Schemas() {
		if strings.EqualFold(sc.ID, id) {
			s.writeJSON(w, http.StatusOK, schemaDocOf(s.baseURL(r), sc))
			return nil
		}
	}
	return schemas.Errorf(schemas.KindNotFound, "no such schema")
}
