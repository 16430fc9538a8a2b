package main

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
)

const (
	urnUser    = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`
	urnGroup   = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]`
	urnPatchOp = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
)

// TestRun_Bulk runs one bulk request through the real service and the same
// operations one request at a time through another, and checks that both
// logs hold the same events (ids, times and request ids aside): a bulk
// operation is exactly the write it names. It also checks that the
// service advertises the limits it was configured with.
func TestRun_Bulk(t *testing.T) {
	env := map[string]string{"SCIM_BULK_MAX_OPERATIONS": "6", "SCIM_MAX_BODY_BYTES": "65536"}
	bulk := startService(t, env)
	spc := bulk.must(200, bulk.do("GET", "/ServiceProviderConfig", nil))
	want := map[string]any{"supported": true, "maxOperations": 6.0, "maxPayloadSize": 65536.0}
	if got, _ := spc.Body["bulk"].(map[string]any); !equalMaps(got, want) {
		t.Errorf("ServiceProviderConfig bulk = %v, want %v", spc.Body["bulk"], want)
	}

	alice := `{` + urnUser + `,"userName":"alice@example.com","externalId":"00u1","name":{"givenName":"Alice"}}`
	bob := `{` + urnUser + `,"userName":"bob@example.com","active":true}`
	patch := `{` + urnPatchOp + `,"Operations":[{"op":"add","path":"members","value":[{"value":"%s"}]},{"op":"replace","path":"displayName","value":"Sales EMEA"}]}`
	putBob := `{` + urnUser + `,"userName":"bob@example.com","active":false,"displayName":"Bob"}`
	r := bulk.must(200, bulk.do("POST", "/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
		{"method":"POST","path":"/Groups","bulkId":"g","data":{`+urnGroup+`,"displayName":"Sales","members":[{"value":"bulkId:alice"}]}},
		{"method":"POST","path":"/Users","bulkId":"alice","data":`+alice+`},
		{"method":"POST","path":"/Users","bulkId":"bob","data":`+bob+`},
		{"method":"PATCH","path":"/Groups/bulkId:g","data":`+strings.Replace(patch, "%s", "bulkId:bob", 1)+`},
		{"method":"PUT","path":"/Users/bulkId:bob","version":"W/\"1\"","data":`+putBob+`},
		{"method":"DELETE","path":"/Users/bulkId:alice"}]}`))
	var statuses []string
	for _, op := range r.Body["Operations"].([]any) {
		statuses = append(statuses, str(op.(map[string]any)["status"]))
	}
	if strings.Join(statuses, " ") != "201 201 201 200 200 204" {
		t.Fatalf("bulk statuses = %v, want 201 201 201 200 200 204; response %s", statuses, r.Raw)
	}
	// One operation more than configured: 413, nothing runs.
	seven := strings.Repeat(`{"method":"DELETE","path":"/Users/x"},`, 7)
	bulk.must(413, bulk.do("POST", "/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[`+strings.TrimSuffix(seven, ",")+`]}`))

	// The same writes, one request each, in the order the bulk request ran
	// them (a POST before the first operation that references it).
	one := startService(t, nil)
	a := str(one.must(201, one.do("POST", "/Users", alice)).Body["id"])
	g := str(one.must(201, one.do("POST", "/Groups", `{`+urnGroup+`,"displayName":"Sales","members":[{"value":"`+a+`"}]}`)).Body["id"])
	b := str(one.must(201, one.do("POST", "/Users", bob)).Body["id"])
	one.must(204, one.do("PATCH", "/Groups/"+g, strings.Replace(patch, "%s", b, 1)))
	one.must(200, one.do("PUT", "/Users/"+b, putBob, "If-Match", `W/"1"`))
	one.must(204, one.do("DELETE", "/Users/"+a, nil))

	bulk.stop()
	one.stop()
	got, wantEvs := normalEvents(t, readEvents(t, bulk.dataDir)), normalEvents(t, readEvents(t, one.dataDir))
	if len(wantEvs) != 9 {
		t.Fatalf("one by one: %d events, want 9:\n%s", len(wantEvs), strings.Join(wantEvs, "\n"))
	}
	if strings.Join(got, "\n") != strings.Join(wantEvs, "\n") {
		t.Errorf("events of the bulk request:\n%s\nwant (one request each):\n%s", strings.Join(got, "\n"), strings.Join(wantEvs, "\n"))
	}
}

// normalEvents renders events for comparison: type and data without the
// event id, time, source, request id and request digest, and with resource ids replaced by
// the order in which they were created ("#1", "#2", ...).
func normalEvents(t *testing.T, evs []events.Event) []string {
	t.Helper()
	ids := map[string]string{}
	var out []string
	for _, e := range evs {
		if _, ok := ids[e.ResourceID]; !ok {
			ids[e.ResourceID] = "#" + strconv.Itoa(len(ids)+1)
		}
		e.RequestID = ""
		// A digest covers the bytes of the request or bulk operation that
		// made the event, which differ between the two runs.
		e.RequestDigest = ""
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		s := e.Type + " " + string(raw)
		for id, label := range ids {
			s = strings.ReplaceAll(s, id, label)
		}
		out = append(out, s)
	}
	return out
}

func equalMaps(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestConfig_BulkMaxOperations(t *testing.T) {
	c, err := parseConfig("serve", []string{"--bulk-max-operations", "7"}, func(k string) string {
		return map[string]string{"SCIM_TOKEN": "x", "SCIM_BULK_MAX_OPERATIONS": "3"}[k]
	}, io.Discard)
	if err != nil || c.MaxBulkOps != 7 {
		t.Errorf("--bulk-max-operations 7 over SCIM_BULK_MAX_OPERATIONS=3: %d, %v; want 7", c.MaxBulkOps, err)
	}
	_, err = parseConfig("serve", nil, func(k string) string {
		return map[string]string{"SCIM_TOKEN": "x", "SCIM_BULK_MAX_OPERATIONS": "0"}[k]
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SCIM_BULK_MAX_OPERATIONS") {
		t.Errorf("SCIM_BULK_MAX_OPERATIONS=0: %v, want an error naming it", err)
	}
}
