package scimhttp

import (
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// memShape is a request body built to cost much memory per byte to
// decode, and the decode a handler runs on it, which returns what the body
// counts for in the budget of bodies in flight.
type memShape struct {
	name   string
	body   string
	decode func(body []byte) (reserved int64, err error)
	fails  bool // the decode's answer is an error
	// real marks what an IdP sends, measured for comparison but not
	// bounded: a body of a few hundred bytes costs mostly what every
	// decode costs, whatever its size (the reader, the Unknowns, ...),
	// which the limits on requests in flight bound, not this budget.
	real bool
}

// memShapes are the costliest shapes found of each kind, about size bytes
// each (the deep one as deep as a body may nest).
func memShapes(t testing.TB, size int) []memShape {
	reg, err := schemas.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	users, _ := reg.ResourceType(schemas.User)
	// What the handlers run on a body: checkBody, then the decode.
	check := func(body []byte, what string) (int64, error) {
		n, err := schemas.CheckRequestJSON(body, what, DefaultMaxBodyValues)
		return bodyReserve(len(body), n, perTenantBodyBytes(DefaultMaxInFlightBytes, DefaultMaxBodyBytes)), err
	}
	post := func(body []byte) (int64, error) {
		reserved, err := check(body, "the request body")
		if err == nil {
			_, err = users.DecodeWith(body, &schemas.Unknowns{})
		}
		return reserved, err
	}
	patch := func(body []byte) (int64, error) {
		reserved, err := check(body, "the request body")
		if err == nil {
			_, err = schemas.ParsePatch(body, DefaultMaxPatchOps)
		}
		return reserved, err
	}
	bulk := func(body []byte) (int64, error) {
		reserved, err := check(body, "the BulkRequest")
		if err == nil {
			_, err = parseBulkRequest(body, DefaultMaxBulkOps, reg)
		}
		return reserved, err
	}
	repeat := func(prefix, elem, sep, suffix string) string {
		var b strings.Builder
		b.WriteString(prefix)
		for i := 0; b.Len()+len(elem)+len(suffix) < size; i++ {
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(strings.ReplaceAll(elem, "#", strconv.FormatInt(int64(i), 36)))
		}
		b.WriteString(suffix)
		return b.String()
	}
	// times joins n copies of elem with commas, each "#" in the i-th the
	// number i.
	times := func(elem string, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = strings.ReplaceAll(elem, "#", strconv.Itoa(i))
		}
		return strings.Join(parts, ",")
	}
	user := `{"schemas":["` + schemas.URNUser + `"],"userName":"u","x":`
	patchOp := `{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"add","path":"title","value":`
	bulkReq := `{"schemas":["` + URNBulkRequest + `"],"Operations":[`
	const depth = 9990
	return []memShape{
		// For comparison, what Entra ID sends.
		{"POST Entra ID's user", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"alice","userName":"alice@contoso.com","active":true,"emails":[{"primary":true,"type":"work","value":"alice@contoso.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"Alice Ng","familyName":"Ng","givenName":"Alice"},"roles":[]}`, post, false, true},
		{"PATCH Entra ID's members", `{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"Add","path":"members","value":[` + times(`{"$ref":null,"value":"2819c223-7f76-453a-919d-4131#"}`, 1000) + `]}]}`, patch, false, true},
		{"POST numbers", repeat(user+"[", "1", ",", "]}"), post, false, false},
		{"POST empty objects", repeat(user+"[", "{}", ",", "]}"), post, false, false},
		{"POST empty arrays", repeat(user+"[", "[]", ",", "]}"), post, false, false},
		{"POST one-byte strings", repeat(user+"[", `"a"`, ",", "]}"), post, false, false},
		{"POST nulls", repeat(user+"[", `null`, ",", "]}"), post, false, false},
		{"POST short keys", repeat(user+"{", `"#":1`, ",", "}}"), post, false, false},
		{"POST objects of one key", repeat(user+"[", `{"a":1}`, ",", "]}"), post, false, false},
		{"POST deep nesting", user + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "}", post, false, false},
		{"POST long string", user + `"` + strings.Repeat("a", size) + `"}`, post, false, false},
		{"POST unicode escapes", user + `"` + strings.Repeat(`\u00e9`, size/6) + `"}`, post, false, false},
		{"PATCH numbers", repeat(patchOp+"[", "1", ",", "]}]}"), patch, false, false},
		{"PATCH empty objects", repeat(patchOp+"[", "{}", ",", "]}]}"), patch, false, false},
		{"PATCH 1000 ops", `{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[` + times(`{"op":"add","path":"title","value":"t"}`, DefaultMaxPatchOps) + "]}", patch, false, false},
		{"PATCH too many ops", repeat(`{"schemas":["`+schemas.URNPatchOp+`"],"Operations":[`, `{}`, ",", "]}"), patch, true, false},
		{"bulk 1000 POSTs", bulkReq + times(`{"method":"POST","bulkId":"b#","path":"/Users","data":{"schemas":["`+schemas.URNUser+`"],"userName":"u#"}}`, DefaultMaxBulkOps) + "]}", bulk, false, false},
		{"bulk numbers", repeat(bulkReq+`{"method":"POST","bulkId":"b","path":"/Users","data":{"x":[`, "1", ",", "]}}]}"), bulk, false, false},
		{"bulk empty objects", repeat(bulkReq+`{"method":"POST","bulkId":"b","path":"/Users","data":{"x":[`, "{}", ",", "]}}]}"), bulk, false, false},
	}
}

// decodeCost returns the bytes allocated by one decode of body, with the
// garbage collector off so that nothing is missed, and what decode
// returned.
func decodeCost(decode func([]byte) (int64, error), body []byte) (alloc uint64, reserved int64, err error) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	reserved, err = decode(body)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, reserved, err
}

// maxAllocPerReserved bounds what decoding a body may allocate per byte it
// counts for in the budget of bodies in flight (checkBody), over the
// costliest shapes of memShapes: 12.7 at the last measure, for an object
// of many short keys (docs/decisions.md, "Memory of decoding a request body").
const maxAllocPerReserved = 16

// TestDecode_MemoryPerReservedByte measures, per shape, the bytes one
// decode allocates (with the collector off: deterministic, not timed) per
// body byte and per byte reserved, and fails if the worst of the latter
// comes back above maxAllocPerReserved. Run it with -v for the table.
func TestDecode_MemoryPerReservedByte(t *testing.T) {
	worst, worstName := 0.0, ""
	for _, sh := range memShapes(t, 480_000) {
		body := []byte(sh.body)
		n, reserved, err := decodeCost(sh.decode, body)
		if (err != nil) != sh.fails {
			t.Errorf("%s: decode error %v, want one: %v", sh.name, err, sh.fails)
		}
		perByte, perReserved := float64(n)/float64(len(body)), float64(n)/float64(reserved)
		t.Logf("%-24s %7d bytes, %7d reserved: %5.1f allocated per byte, %5.1f per reserved byte", sh.name, len(body), reserved, perByte, perReserved)
		if perReserved > worst && !sh.real {
			worst, worstName = perReserved, sh.name
		}
	}
	if worst > maxAllocPerReserved {
		t.Errorf("%s: decoding allocated %.1f bytes per byte reserved, want at most %d", worstName, worst, maxAllocPerReserved)
	}
}
