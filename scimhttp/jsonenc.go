package scimhttp

import (
	"slices"
	"sync"

	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// encoder appends the JSON of responses to buf: values as
// [scimjson.Append] writes them (exactly the bytes encoding/json.Marshal
// produces), and the objects render builds itself (a resource with meta and
// $ref added) with their keys sorted the same way, from a reusable key
// stack.
//
// Encoders come from getEncoder and go back with putEncoder; one is not safe
// for concurrent use.
type encoder struct {
	buf     []byte
	keys    []string // a stack of key slices, one per open object
	values  scimjson.Writer
	scratch []byte              // a URL being assembled before it is escaped
	members []schemas.RawMember // a stored resource's members (appendRaw)
	err     error               // the first failure of encoding/json on a value
}

// maxPooledBuffer keeps the pool from holding on to the buffer of one huge
// response.
const maxPooledBuffer = 4 << 20

var encoders = sync.Pool{New: func() any { return new(encoder) }}

func getEncoder() *encoder { return encoders.Get().(*encoder) }

func putEncoder(e *encoder) {
	if cap(e.buf) > maxPooledBuffer || cap(e.scratch) > maxPooledBuffer {
		return
	}
	e.buf, e.scratch, e.err = e.buf[:0], e.scratch[:0], nil
	encoders.Put(e)
}

// value appends v (see scimjson.Append); a failure is kept in err and
// the response is then never sent.
func (e *encoder) value(v any) {
	if r, ok := v.(schemas.Resource); ok {
		v = map[string]any(r) // scimjson writes a named map type by reflection
	}
	var err error
	if e.buf, err = e.values.Append(e.buf, v); err != nil && e.err == nil {
		e.err = err
	}
}

// sortedKeys pushes the keys of m, and extra when it is not "" and not
// already one of them, onto e.keys, sorted, and returns where they start.
// The caller pops them with popKeys.
func (e *encoder) sortedKeys(m map[string]any, extra string) int {
	start := len(e.keys)
	for k := range m {
		e.keys = append(e.keys, k)
	}
	if extra != "" {
		if _, ok := m[extra]; !ok {
			e.keys = append(e.keys, extra)
		}
	}
	slices.Sort(e.keys[start:])
	return start
}

func (e *encoder) popKeys(start int) {
	clear(e.keys[start:]) // the pool must not keep the strings alive
	e.keys = e.keys[:start]
}

// key appends k and the colon.
func (e *encoder) key(k string) {
	e.buf = scimjson.AppendString(e.buf, k)
	e.buf = append(e.buf, ':')
}
