package projection

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// cursorVersion is the first byte of every cursor we hand out.
const cursorVersion = 1

// cursor is a position in a list (RFC 9865): the sort key and id of the
// last resource returned, bound to the query that produced it by a hash of
// its tenant, type, filter and sort. Cursors do not expire; they stay valid
// across restarts and replicas because they name a position, not a
// snapshot.
type cursor struct {
	hash uint64
	key  []byte // sort key; empty when ordered by id
	id   string
}

func (c cursor) encode() string {
	b := make([]byte, 0, 1+8+binary.MaxVarintLen64+len(c.key)+len(c.id))
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, c.hash)
	b = binary.AppendUvarint(b, uint64(len(c.key)))
	b = append(b, c.key...)
	b = append(b, c.id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses s and checks it belongs to the query with hash h.
// Errors are *schemas.Error of KindInvalidCursor.
func decodeCursor(s string, h uint64) (cursor, error) {
	bad := schemas.Errorf(schemas.KindInvalidCursor, "cursor %q is not valid for this query", s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+8 || b[0] != cursorVersion {
		return cursor{}, bad
	}
	c := cursor{hash: binary.BigEndian.Uint64(b[1:9])}
	n, w := binary.Uvarint(b[9:])
	if w <= 0 || n > uint64(len(b)-9-w) {
		return cursor{}, bad
	}
	rest := b[9+w:]
	c.key, c.id = rest[:n], string(rest[n:])
	if c.hash != h || c.id == "" {
		return cursor{}, bad
	}
	return c, nil
}

// queryHash binds a cursor to what defines a list's order and content.
// Count and startIndex may change from page to page (RFC 9865 §2).
func queryHash(tenant, typ string, q view.Query) uint64 {
	h := fnv.New64a()
	var b bytes.Buffer
	b.WriteString(strconv.Quote(tenant))
	b.WriteString(strconv.Quote(typ))
	if q.Filter != nil {
		b.WriteString(strconv.Quote(q.Filter.String()))
	}
	b.WriteByte('|')
	if q.SortBy != nil {
		b.WriteString(strconv.Quote(strings.ToLower(q.SortBy.URN + ":" + q.SortBy.Name + "." + q.SortBy.Sub)))
		b.WriteString(strconv.FormatBool(q.Descending))
	}
	h.Write(b.Bytes())
	return h.Sum64()
}
