// Package scimjson reads and writes JSON texts without reflection, giving
// exactly what encoding/json gives: a Reader that parses value by value for
// decoders filling their own types (events, stored records), ParseValue for
// a whole text, Append and Writer that write what json.Marshal writes, and
// the duplicate-key check a SCIM request needs (attribute names are
// case-insensitive, RFC 7643 §2.1).
//
// It is a leaf: it imports nothing of this module, and schemas, events,
// projection and scimhttp all use it. The tests check it against
// encoding/json (differential tests and fuzz targets).
package scimjson
