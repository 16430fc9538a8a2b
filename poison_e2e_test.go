package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/kafka"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// personal marks the attribute values of poison events: no log line may
// carry it.
const personal = "personal-data-"

func personalData(n int) string { return strings.Repeat(personal, n/len(personal)+1)[:n] }

// logBuffer collects a service's log lines (and passes them to t.Log).
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !bytes.Contains(p, []byte(personal)) {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// version returns the version of a resource (its meta.version, W/"n").
func (s *service) version(path string) int64 {
	s.t.Helper()
	r := s.must(200, s.do("GET", path, nil))
	var v int64
	meta, _ := r.Body["meta"].(map[string]any)
	if _, err := fmt.Sscanf(str(meta["version"]), `W/"%d"`, &v); err != nil {
		s.t.Fatalf("GET %s: meta.version %v: %v", path, meta["version"], err)
	}
	return v
}

// poisonEvents are events the projection cannot apply, against the
// resources of a provisioning sequence (tenant "default"), with the reason
// each must be skipped for: what a buggy version, another producer or a
// hand-made record could put in the log.
func poisonEvents(t *testing.T, s *service, p provisioned) (evs []events.Event, reasons []string) {
	t.Helper()
	now := time.Now().UTC()
	add := func(reason string, ev events.Event) {
		ev.ID = fmt.Sprintf("poison-%d", len(evs))
		ev.Source, ev.Time, ev.Tenant = "/hand-made", now, "default"
		evs = append(evs, ev)
		reasons = append(reasons, reason)
	}
	user := func(id string, kv ...any) schemas.Resource {
		r := schemas.Resource{"schemas": []any{schemas.URNUser}, "id": id}
		for i := 0; i+1 < len(kv); i += 2 {
			r[kv[i].(string)] = kv[i+1]
		}
		return r
	}
	alice := s.version("/Users/" + p.alice)
	sales := s.version("/Groups/" + p.sales)
	add("key_too_large", events.Event{Type: events.UserCreated, ResourceType: "User", ResourceID: "poison-user",
		Version: 1, Resource: user("poison-user", "userName", personalData(70_000))})
	add("key_too_large", events.Event{Type: events.UserUpdated, ResourceType: "User", ResourceID: p.alice,
		Version: alice + 1, PrevVersion: alice, Resource: user(p.alice, "userName", "alice@example.com",
			"emails", []any{map[string]any{"value": personalData(70_000)}})})
	add("value_too_large", events.Event{Type: events.GroupMembersAdded, ResourceType: "Group", ResourceID: p.sales,
		Version: sales + 1, PrevVersion: sales, MembersAdded: []schemas.Member{{Value: p.carol, Type: "User", Display: personalData(200_000)}}})
	many := make([]any, 10_001)
	for i := range many {
		many[i] = map[string]any{"value": fmt.Sprintf("%s%d@example.com", personal, i)}
	}
	add("too_many_values", events.Event{Type: events.UserCreated, ResourceType: "User", ResourceID: "poison-emails",
		Version: 1, Resource: user("poison-emails", "userName", "many", "emails", many)})
	add("not_found", events.Event{Type: events.UserDeleted, ResourceType: "User", ResourceID: "never-created", Version: 1})
	return evs, reasons
}

// appendEmbedded appends evs to the embedded log of a stopped service.
func appendEmbedded(t *testing.T, dataDir string, evs []events.Event) {
	t.Helper()
	l, err := events.OpenEmbedded(filepath.Join(dataDir, "log"), events.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range evs {
		if _, _, err := l.Append(context.Background(), evs[i:i+1]); err != nil {
			t.Fatalf("append %s: %v", evs[i].ID, err)
		}
	}
}

// checkServes checks that a service with poison events in its log serves
// reads and writes of everything else, and counted what it skipped.
func checkServes(t *testing.T, s *service, p provisioned, reasons []string) {
	t.Helper()
	if st := s.status("/readyz"); st != 200 {
		t.Errorf("/readyz = %d, want 200", st)
	}
	r := s.must(200, s.do("GET", "/Users/"+p.alice, nil))
	if r.Body["userName"] != "alice@example.com" {
		t.Errorf("alice after the poison events: %s", r.Raw)
	}
	s.must(404, s.do("GET", "/Users/poison-user", nil))
	r = s.must(200, s.do("GET", "/Users?filter="+q(`userName eq "many"`), nil))
	if r.Body["totalResults"] != float64(0) {
		t.Errorf("the skipped user is listed: %s", r.Raw)
	}
	// Writes to the resources the poison events were about still work.
	s.must(200, s.do("PATCH", "/Users/"+p.alice, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Alice N."}]}`))
	patchGroup(t, s, p.sales, `[{"op":"add","path":"members","value":[{"value":"`+p.carol+`"}]}]`)
	checkMembers(t, s, p.sales, p.alice, p.carol)
	s.must(201, s.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"after-poison@example.com"}`))

	resp, err := http.Get(s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	counts := map[string]int{}
	for _, r := range reasons {
		counts[r]++
	}
	for reason, n := range counts {
		want := fmt.Sprintf(`scim_projection_skipped_events_total{reason=%q} %d`, reason, n)
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

func checkNoPersonalData(t *testing.T, logs fmt.Stringer) {
	t.Helper()
	if i := strings.Index(logs.String(), personal); i >= 0 {
		t.Errorf("a log line carries attribute values: …%.300s", logs.String()[max(0, i-200):])
	}
}

// TestRun_PoisonEvents appends events the projection cannot apply to the
// embedded log: the service starts, becomes ready, serves reads and writes
// of everything else, logs no attribute value, and `scim-bridge rebuild`
// arrives at the projection the live service built.
func TestRun_PoisonEvents(t *testing.T) {
	env := map[string]string{"SCIM_DATA_DIR": t.TempDir()}
	s := startService(t, env)
	p := provisioningSequence(t, s)
	evs, reasons := poisonEvents(t, s, p)
	s.stop()
	appendEmbedded(t, env["SCIM_DATA_DIR"], evs)

	logs := &logBuffer{t: t}
	s = startServiceLogs(t, env, logs)
	s.waitReady()
	checkServes(t, s, p, reasons)
	s.stop()
	live := exportProjection(t, env["SCIM_DATA_DIR"])

	// Restarted on the same projection: ready again, nothing more to skip.
	s = startServiceLogs(t, env, logs)
	s.waitReady()
	s.stop()

	renv := map[string]string{"SCIM_DATA_DIR": env["SCIM_DATA_DIR"], "SCIM_LOG_LEVEL": "warn"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, []string{"rebuild"}, func(k string) string { return renv[k] }, io.Discard, logs, nil); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	diffDumps(t, "after scim-bridge rebuild", exportProjection(t, env["SCIM_DATA_DIR"]), live)
	checkNoPersonalData(t, logs)
}

// TestRun_Limits sends POST, PUT and PATCH over every limit: 400
// invalidValue naming the attribute and the limit (413 for a resource too
// large as a whole), nothing appended, and the service goes on.
func TestRun_Limits(t *testing.T) {
	s := startService(t, nil)
	userBody := func(extra string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]` + extra + `}`
	}
	long := func(n int) string { return strings.Repeat("a", n) }
	r := s.must(201, s.do("POST", "/Users", userBody(`,"userName":"limits@example.com"`)))
	uid := str(r.Body["id"])
	r = s.must(201, s.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Limits"}`))
	gid := str(r.Body["id"])
	patch := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`
	}
	emails := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"value":"e%d@example.com"}`, i)
		}
		return `,"userName":"emails@example.com","emails":[` + b.String() + `]`
	}
	lt := strings.Repeat("<", 64<<10)
	tests := []struct {
		name, method, path, body string
		status                   int
		attr, limit              string
	}{
		{"POST_UserName70000", "POST", "/Users", userBody(`,"userName":"` + long(70_000) + `"`), 400, "userName", "1024"},
		{"POST_UserName", "POST", "/Users", userBody(`,"userName":"` + long(1025) + `"`), 400, "userName", "1024"},
		{"POST_UserNameEmpty", "POST", "/Users", userBody(`,"userName":""`), 400, "userName", "blank"},
		{"POST_UserNameBlank", "POST", "/Users", userBody(`,"userName":"   "`), 400, "userName", "blank"},
		{"POST_ExternalID", "POST", "/Users", userBody(`,"userName":"x@example.com","externalId":"` + long(1025) + `"`), 400, "externalId", "1024"},
		{"POST_EmailValue", "POST", "/Users", userBody(`,"userName":"x@example.com","emails":[{"value":"` + long(1025) + `"}]`), 400, "emails[0].value", "1024"},
		{"POST_Emails", "POST", "/Users", userBody(emails(257)), 400, "emails", "256"},
		{"POST_String", "POST", "/Users", userBody(`,"userName":"x@example.com","nickName":"` + long(64<<10+1) + `"`), 400, "nickName", "65536"},
		{"POST_TooLargeToStore", "POST", "/Users", userBody(`,"userName":"x@example.com","nickName":"` + lt + `","title":"` + lt +
			`","displayName":"` + lt + `","profileUrl":"` + lt + `","locale":"` + lt + `"`), 413, "", "too large"},
		{"POST_GroupDisplayName", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + long(1025) + `"}`, 400, "displayName", "1024"},
		{"POST_GroupDisplayNameBlank", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":" "}`, 400, "displayName", "blank"},
		{"POST_GroupExternalID", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","externalId":"` + long(1025) + `"}`, 400, "externalId", "1024"},
		{"PUT_UserName", "PUT", "/Users/" + uid, userBody(`,"userName":"` + long(1025) + `"`), 400, "userName", "1024"},
		{"PUT_UserNameEmpty", "PUT", "/Users/" + uid, userBody(`,"userName":""`), 400, "userName", "blank"},
		{"PUT_Emails", "PUT", "/Users/" + uid, userBody(emails(257)), 400, "emails", "256"},
		{"PUT_GroupDisplayName", "PUT", "/Groups/" + gid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + long(1025) + `"}`, 400, "displayName", "1024"},
		{"PATCH_UserName", "PATCH", "/Users/" + uid, patch(`[{"op":"replace","path":"userName","value":"` + long(1025) + `"}]`), 400, "userName", "1024"},
		{"PATCH_UserNameBlank", "PATCH", "/Users/" + uid, patch(`[{"op":"replace","path":"userName","value":" "}]`), 400, "userName", "blank"},
		{"PATCH_ExternalID", "PATCH", "/Users/" + uid, patch(`[{"op":"add","path":"externalId","value":"` + long(1025) + `"}]`), 400, "externalId", "1024"},
		{"PATCH_EmailValue", "PATCH", "/Users/" + uid, patch(`[{"op":"add","path":"emails[type eq \"work\"].value","value":"` + long(1025) + `"}]`), 400, "emails[0].value", "1024"},
		{"PATCH_String", "PATCH", "/Users/" + uid, patch(`[{"op":"add","path":"title","value":"` + long(64<<10+1) + `"}]`), 400, "title", "65536"},
		{"PATCH_GroupDisplayName", "PATCH", "/Groups/" + gid, patch(`[{"op":"replace","path":"displayName","value":"` + long(1025) + `"}]`), 400, "displayName", "1024"},
		{"PATCH_MemberDisplay", "PATCH", "/Groups/" + gid, patch(`[{"op":"add","path":"members","value":[{"value":"` + uid + `","display":"` + long(64<<10+1) + `"}]}]`), 400, "members[0].display", "65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.t = t
			r := s.do(tt.method, tt.path, tt.body)
			if r.Status != tt.status {
				t.Fatalf("%s %s = %d %.300s, want %d", tt.method, tt.name, r.Status, r.Raw, tt.status)
			}
			detail := str(r.Body["detail"])
			if tt.status == 400 && r.Body["scimType"] != "invalidValue" {
				t.Errorf("scimType = %v, want invalidValue", r.Body["scimType"])
			}
			if tt.attr != "" && !strings.Contains(detail, `"`+tt.attr+`"`) || !strings.Contains(detail, tt.limit) {
				t.Errorf("detail = %q, want it to name %q and %q", detail, tt.attr, tt.limit)
			}
		})
	}
	s.t = t
	// Nothing was appended and the service goes on.
	s.must(201, s.do("POST", "/Users", userBody(`,"userName":"after@example.com"`)))
	r = s.must(200, s.do("GET", "/Users?count=0", nil))
	if r.Body["totalResults"] != float64(2) {
		t.Errorf("users after the refused writes: %s, want 2", r.Raw)
	}
	r = s.must(200, s.do("GET", "/Users/"+uid, nil))
	if r.Body["userName"] != "limits@example.com" || r.Body["emails"] != nil || r.Body["title"] != nil {
		t.Errorf("user after refused PUTs and PATCHes: %s", r.Raw)
	}
	s.stop()
	if n := len(readEvents(t, s.dataDir)); n != 3 {
		t.Errorf("log holds %d events, want 3 (two users and a group created)", n)
	}
}

// TestKafka_PoisonEvents puts events the projection cannot apply on the
// topic while the service runs, as another producer or a buggy version
// could, plus a record that is no event at all: the service skips them,
// keeps serving, is ready after a restart, and a rebuild from the topic
// arrives at the live projection.
func TestKafka_PoisonEvents(t *testing.T) {
	env := kafkaEnv(t)
	env["SCIM_DATA_DIR"] = t.TempDir()
	logs := &logBuffer{t: t}
	s := startServiceLogs(t, env, logs)
	s.waitReady()
	p := provisioningSequence(t, s)
	evs, reasons := poisonEvents(t, s, p)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := kafka.Open(kafka.Options{Brokers: strings.Split(env["KAFKA_BROKERS"], ","), Topic: env["KAFKA_TOPIC"]})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	// The service claimed the partition (write ownership with Kafka):
	// events another producer appends count only under the claim in
	// force, so these carry its epoch and are judged on what they hold.
	epoch := claimInForce(t, l, events.PartitionFor("default", l.Partitions())).Epoch
	for i := range evs {
		evs[i].Epoch = epoch
		if _, _, err := l.Append(ctx, evs[i:i+1]); err != nil {
			t.Fatalf("append %s: %v", evs[i].ID, err)
		}
	}
	partition := events.PartitionFor("default", l.Partitions())
	l.Close()
	// A record without the CloudEvents headers, as a stray producer writes.
	conn, err := kafkago.DialLeader(ctx, "tcp", strings.Split(env["KAFKA_BROKERS"], ",")[0], env["KAFKA_TOPIC"], partition)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteMessages(kafkago.Message{Key: []byte("default/User/stray"), Value: []byte(`{"userName":"` + personal + `"}`)}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	reasons = append(reasons, "invalid")

	checkServes(t, s, p, reasons)
	s.stop()

	// Restarted, it claims its partitions again: the projection it stops
	// with is the one a rebuild must arrive at.
	s = startServiceLogs(t, env, logs)
	s.waitReady()
	s.stop()
	live := exportProjection(t, env["SCIM_DATA_DIR"])

	renv := map[string]string{"SCIM_LOG_LEVEL": "warn"}
	for k, v := range env {
		renv[k] = v
	}
	if err := run(ctx, []string{"rebuild"}, func(k string) string { return renv[k] }, io.Discard, logs, nil); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	diffDumps(t, "after scim-bridge rebuild", exportProjection(t, env["SCIM_DATA_DIR"]), live)
	checkNoPersonalData(t, logs)
}

// claimInForce reads partition p of l and returns its claim in force at the
// end, as every reader decides it (events.Fence).
func claimInForce(t *testing.T, l events.Log, p int) events.Fence {
	t.Helper()
	end, err := l.End(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var f events.Fence
	if end[p] == 0 {
		return f
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = l.Read(ctx, p, 0, func(rec events.Record) error {
		if rec.Claim != nil {
			f, _ = f.Claim(rec.Claim)
		}
		if rec.Offset == end[p]-1 {
			cancel()
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
	return f
}
