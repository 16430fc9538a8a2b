package schemas

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Baselines for the schemas benchmarks: what encoding/json alone costs on
// the same input, measured in the same run, so figures can be reported as
// ratios that survive a noisy machine.

// BenchmarkBaseline_JSONDecodeOktaUser decodes the body of
// BenchmarkDecodeOktaUser with encoding/json into a map, and nothing else.
func BenchmarkBaseline_JSONDecodeOktaUser(b *testing.B) {
	body := []byte(oktaUser)
	b.ReportAllocs()
	for b.Loop() {
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaseline_JSONRoundTripUser marshals and decodes the user of
// BenchmarkApplyPatch once: the cost of copying it through JSON.
func BenchmarkBaseline_JSONRoundTripUser(b *testing.B) {
	r := Resource(ptDecode(b, ptUser).(map[string]any))
	b.ReportAllocs()
	for b.Loop() {
		raw, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			b.Fatal(err)
		}
	}
}
