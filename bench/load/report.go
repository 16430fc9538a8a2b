package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the tool's result; --json prints it as is.
type report struct {
	URL             string       `json:"url"`
	Tenants         int          `json:"tenants"`
	Concurrency     int          `json:"concurrency"`
	DurationSeconds float64      `json:"duration_seconds"`
	MaxRequests     int64        `json:"max_requests,omitempty"`
	Mix             string       `json:"mix"`
	RandSeed        uint64       `json:"rand_seed"`
	Cores           int          `json:"cores"`
	Seed            *seedStats   `json:"seed,omitempty"`
	Baseline        *phaseReport `json:"baseline,omitempty"`
	BaselineURL     string       `json:"baseline_url,omitempty"` // where the bare server ran: "child process", "in-process" or the --baseline-url
	Run             *phaseReport `json:"run,omitempty"`
}

// phaseReport is one measured run: against the bare server or the service.
type phaseReport struct {
	Seconds         float64    `json:"seconds"`
	Requests        int64      `json:"requests"`
	ReqPerSec       float64    `json:"req_per_sec"`
	Errors          uint64     `json:"errors"`
	ClientCPUCores  float64    `json:"client_cpu_cores"`           // CPU seconds the tool used per second of the run
	ServerCPUCores  float64    `json:"server_cpu_cores,omitempty"` // the baseline's: CPU seconds of the bare server process per second
	CleanupRequests int64      `json:"cleanup_requests"`
	Ops             []opReport `json:"ops"`
	All             opReport   `json:"all"`
}

type opReport struct {
	Op        string            `json:"op"`
	Requests  uint64            `json:"requests"`
	ReqPerSec float64           `json:"req_per_sec"`
	Ratio     *float64          `json:"ratio_to_bare,omitempty"`
	P50Ms     float64           `json:"p50_ms"`
	P90Ms     float64           `json:"p90_ms"`
	P99Ms     float64           `json:"p99_ms"`
	MaxMs     float64           `json:"max_ms"`
	Errors    uint64            `json:"errors"`
	Statuses  map[string]uint64 `json:"statuses"` // "0" is no response
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func newOpReport(name string, h *histogram, statuses map[string]uint64, errs uint64, secs float64) opReport {
	return opReport{
		Op: name, Requests: h.Count(), ReqPerSec: float64(h.Count()) / secs,
		P50Ms: ms(h.Quantile(0.50)), P90Ms: ms(h.Quantile(0.90)), P99Ms: ms(h.Quantile(0.99)), MaxMs: ms(h.Max()),
		Errors: errs, Statuses: statuses,
	}
}

// newPhaseReport summarises rs, listing the ops of m.
func newPhaseReport(rs *runStats, m mix) *phaseReport {
	secs := max(rs.elapsed.Seconds(), 1e-9)
	p := &phaseReport{
		Seconds: rs.elapsed.Seconds(), Requests: rs.completed, ReqPerSec: float64(rs.completed) / secs,
		ClientCPUCores: rs.cpu.Seconds() / secs, CleanupRequests: rs.cleanup,
	}
	var all histogram
	allStatus := map[string]uint64{}
	for o, s := range rs.ops {
		if !m.has(op(o)) {
			continue
		}
		st := map[string]uint64{}
		for code := range s.status {
			if n := s.status[code].Load(); n > 0 {
				st[strconv.Itoa(code)] = n
				allStatus[strconv.Itoa(code)] += n
			}
		}
		errs := s.errors()
		p.Errors += errs
		all.merge(&s.hist)
		p.Ops = append(p.Ops, newOpReport(op(o).String(), &s.hist, st, errs, secs))
	}
	p.All = newOpReport("all", &all, allStatus, p.Errors, secs)
	return p
}

// setRatios sets every op's ratio of its throughput to the same op's against
// the bare server.
func setRatios(run, bare *phaseReport) {
	byName := map[string]float64{bare.All.Op: bare.All.ReqPerSec}
	for _, o := range bare.Ops {
		byName[o.Op] = o.ReqPerSec
	}
	set := func(o *opReport) {
		if b := byName[o.Op]; b > 0 {
			r := o.ReqPerSec / b
			o.Ratio = &r
		}
	}
	for i := range run.Ops {
		set(&run.Ops[i])
	}
	set(&run.All)
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "target %s: %d tenant(s), %d workers, mix %s, rand seed %d\n", r.URL, r.Tenants, r.Concurrency, r.Mix, r.RandSeed)
	if s := r.Seed; s != nil {
		if s.Skipped && s.FromFile != "" {
			fmt.Fprintf(&b, "seed: skipped; read %d users and %d big group(s) from %s\n", s.Users, s.Groups, s.FromFile)
		} else if s.Skipped {
			fmt.Fprintf(&b, "seed: skipped; found %d users and %d big group(s) by listing in %.1fs\n", s.Users, s.Groups, s.Seconds)
		} else {
			fmt.Fprintf(&b, "seed: %d users (%d created, %d existed) at %.0f users/s; %d group(s), %d member PATCH(es); %d requests in %.1fs\n",
				s.Users, s.UsersCreated, s.UsersExisting, s.UsersPerSecond, s.Groups, s.MemberPatches, s.Requests, s.Seconds)
		}
	}
	if p := r.Baseline; p != nil {
		server := ""
		if p.ServerCPUCores > 0 {
			server = fmt.Sprintf(", bare server CPU %.2f", p.ServerCPUCores)
		}
		fmt.Fprintf(&b, "bare net/http baseline (%s): %.0f req/s over %.1fs, p50 %s, client CPU %.2f%s of %d cores\n",
			r.BaselineURL, p.ReqPerSec, p.Seconds, fmtMs(p.All.P50Ms), p.ClientCPUCores, server, r.Cores)
	}
	if p := r.Run; p != nil {
		fmt.Fprintf(&b, "service: %d requests in %.1fs, %.0f req/s, %d errors, client CPU %.2f of %d cores\n\n",
			p.Requests, p.Seconds, p.ReqPerSec, p.Errors, p.ClientCPUCores, r.Cores)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "op\trequests\treq/s\tratio to bare\tp50\tp90\tp99\tmax\terrors\t")
		for _, o := range append(p.Ops, p.All) {
			ratio := "-"
			if o.Ratio != nil {
				ratio = fmt.Sprintf("%.3f", *o.Ratio)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t%d\t\n", o.Op, o.Requests, o.ReqPerSec, ratio,
				fmtMs(o.P50Ms), fmtMs(o.P90Ms), fmtMs(o.P99Ms), fmtMs(o.MaxMs), o.Errors)
		}
		tw.Flush()
		for _, o := range p.Ops {
			if o.Errors > 0 {
				fmt.Fprintf(&b, "errors of %s by status (0 = no response): %s\n", o.Op, fmtStatuses(o.Statuses))
			}
		}
		fmt.Fprintf(&b, "\nThe client runs on the same %d cores as the service; \"ratio to bare\" divides each op's\n"+
			"throughput by the same op's against a bare net/http handler driven the same way, which is\n"+
			"the figure to compare between runs. Latencies are within 0.4%% (log-linear histogram).\n", r.Cores)
		if r.BaselineURL == "in-process" {
			b.WriteString("The baseline's client CPU figure includes the in-process bare server.\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 1:
		return fmt.Sprintf("%.2fms", v)
	default:
		return fmt.Sprintf("%.0fµs", v*1000)
	}
}

func fmtStatuses(st map[string]uint64) string {
	var parts []string
	for code, n := range st {
		if c, _ := strconv.Atoi(code); c < 200 || c > 299 {
			parts = append(parts, fmt.Sprintf("%s×%d", code, n))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
