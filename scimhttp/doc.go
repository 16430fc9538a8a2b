// Package scimhttp serves the SCIM 2.0 protocol (RFC 7644) over HTTP: the
// routes under /scim/v2, bearer-token authentication (token → tenant),
// content types, request limits, SCIM error bodies, ListResponse, the
// discovery endpoints (/ServiceProviderConfig, /ResourceTypes, /Schemas),
// searches (POST /.search), bulk requests (POST /Bulk) and request
// metrics.
//
// It owns no state and no business rules: reads go to a [Reader] (met by
// *projection.Store), writes to a [Writer] (met by *bridge.Bridge), tokens to
// an [Authenticator]. Handlers decode and bound what a request writes (a
// resource, PATCH operations) and hand the Writer those values; a write's
// answer is read back through the Reader. It must not import events, the
// projection's store (its values in projection/view are fine), Badger or
// kafka-go; only main imports it.
//
// # Behaviour choices
//
//   - Every response is application/scim+json; charset=utf-8, and every
//     failure, including 401, 404 for unknown routes, 405 and 500, has a SCIM
//     Error body (RFC 7644 §3.12) whose "status" is a string.
//   - Request bodies may be application/scim+json or application/json with
//     any parameters, or carry no Content-Type; any other type is 415.
//   - Every endpoint requires a bearer token, discovery included (RFC 7644 §4
//     allows anonymous discovery; we authenticate everything, so a probe
//     learns nothing without a token).
//   - PATCH (RFC 7644 §3.5.2 allows 200 with the resource or 204): a Group
//     PATCH answers 204 No Content, as Entra ID advises (never sending a
//     large member list back) and as Microsoft's reference Postman collection
//     asserts; with an attributes or excludedAttributes query parameter it
//     answers 200 with that projection. A User PATCH answers 200 with the
//     full user, which Entra's validator and Okta expect. The same Postman
//     collection also asserts 204 for two User PATCHes; set
//     Options.UserPatchNoContent to answer 204 there too. A write's answer
//     is read back through the Reader with only what the response shows,
//     and a 204 reads nothing back, so it never loads a group's members.
//   - Lists: a filter that matches nothing is 200 with totalResults 0 and
//     "Resources": []; itemsPerPage is the number returned; count is capped at
//     the maxResults advertised in /ServiceProviderConfig; startIndex below 1
//     is 1 and a negative count is 0 (RFC 7644 §3.4.2.4). The presence of a
//     cursor parameter (an empty one starts) selects cursor pagination
//     (RFC 9865); the response then carries nextCursor and no startIndex.
//   - POST /.search at the root searches every resource type; resources are
//     grouped by type in registry order, sortBy orders within each type, and
//     cursor pagination is not offered there.
//   - A filter on a discovery endpoint is 403 (RFC 7644 §4).
//   - Unknown query parameters are ignored (Entra's aadOptscim062020 flag);
//     parameter names match case-insensitively; so does the endpoint segment
//     (/users is /Users; ids are matched as sent); a trailing slash is
//     ignored (/Users/ is /Users).
//   - Conditional requests: If-Match on PUT, PATCH and DELETE goes to the
//     bridge, which answers 412 on mismatch; If-None-Match on GET matching the
//     current version is 304. Versions are weak ETags W/"<n>".
//   - 503 and 429 carry Retry-After (Options.RetryAfter, 5 s by default; 1 s
//     for a tenant at its in-flight limit).
//   - No tenant may take the server from the others: every request has a
//     deadline (Options.RequestTimeout, 503 past it), a tenant has at most
//     Options.TenantMaxInFlight requests being served (429 beyond), and
//     bodies being read and decoded share Options.MaxInFlightBytes, half of
//     it at most per tenant (503 for a body that does not fit, before it is
//     read). See limits.go. A body of more than Options.MaxBodyValues JSON
//     values and keys is 413 before any of them is decoded (body.go).
//   - /Bulk (RFC 7644 §3.7, bulk.go) runs its operations one after another
//     through the same Writer methods as single requests, so each is atomic
//     and validated against what the ones before it did; the request as a
//     whole is not atomic. A POST runs before the first operation that
//     references its bulkId; circular references are answered 409 (§3.7.1
//     allows it). A malformed BulkRequest, a bulkId given twice, or more
//     than Options.MaxBulkOps operations or Options.MaxBodyBytes bytes
//     (413, §3.7.4) fails the whole request before anything runs; anything
//     else fails only its operation, and failOnErrors ends the request after
//     that many. Every operation counts against the tenant's rate limit.
//     The answer is always 200 with a BulkResponse in request order, whose
//     successes carry no body (§3.7.3 allows it); a PATCH is 200 there.
//   - /Me is 501 Not Implemented.
package scimhttp
