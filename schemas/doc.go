// Package schemas is the SCIM 2.0 data model of scim-bridge: schema definitions
// (RFC 7643), resources and their validation, the filter language and PATCH
// (RFC 7644 §3.4.2.2, §3.5.2), attribute selection and SCIM error kinds.
//
// It is pure: no I/O, no context, no HTTP, no logging. Every other package of
// the module may import it; it imports nothing of ours.
package schemas
