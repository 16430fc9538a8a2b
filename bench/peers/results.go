package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// results is a whole side-by-side run.
type results struct {
	Started         time.Time      `json:"started"`
	Machine         string         `json:"machine"`
	Cores           int            `json:"cores"`
	Command         string         `json:"command"`
	Users           int            `json:"users"`
	GroupSize       int            `json:"group_size"`
	Duration        time.Duration  `json:"duration_ns"`
	Runs            int            `json:"runs"`
	Ops             []string       `json:"ops"`
	Clients         []int          `json:"clients"` // of each of Ops
	SeedConcurrency int            `json:"seed_concurrency"`
	Servers         []serverResult `json:"servers"`
}

func (r *results) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// opTitles name the ops in the table.
var opTitles = map[string]string{
	"get":    "GET /Users/{id}",
	"filter": "`userName eq` filter",
	"member": "member add/remove, group of {size}",
	"post":   "POST /Users",
}

func opTitle(op string, groupSize int) string {
	return strings.Replace(opTitles[op], "{size}", thousands(float64(groupSize)), 1)
}

// reference is the server every other is compared with.
const reference = "scim-bridge"

// markdown renders the results as the table the README shows.
func (r *results) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	runs := "one run"
	if r.Runs > 1 {
		runs = "median of " + strconv.Itoa(r.Runs) + " runs"
	}
	p("## SCIM servers side by side\n\n")
	p("Measured %s on %s (%d cores); each server alone with the load tool on 127.0.0.1. "+
		"%s users seeded over HTTP (%d clients), one group of %s members; runs of %s, %s, "+
		"each after the bare net/http baseline of the same op in the same `bench/load` run.\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.Machine, r.Cores, thousands(float64(r.Users)), r.SeedConcurrency,
		thousands(float64(r.GroupSize)), r.Duration, runs)
	p("Command: `%s`\n\n", r.Command)

	p("| Server | Versions | What runs |\n|---|---|---|\n")
	for _, s := range r.Servers {
		p("| %s | %s | %s |\n", s.Name, cell(s.Version), cell(s.About))
	}
	p("\n")

	ref := r.server(reference)
	p("| Op | Server | Clients | 2xx/s | p50 | p99 | Ratio to bare | Ratio to %s | Errors |\n", reference)
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, op := range r.Ops {
		var refOp *opResult
		if ref != nil {
			if o, ok := ref.op(op); ok {
				refOp = &o
			}
		}
		for _, s := range r.Servers {
			o, ok := s.op(op)
			if !ok {
				p("| %s | %s | | — | | | | | not measured |\n", opTitle(op, r.GroupSize), s.Name)
				continue
			}
			toRef := "—"
			if refOp != nil && refOp.Ratio > 0 {
				toRef = fmtRatio(o.Ratio / refOp.Ratio)
			}
			p("| %s | %s | %d | %s | %s | %s | %s | %s | %d |\n", opTitle(op, r.GroupSize), s.Name, o.Clients,
				thousands(o.OKPerSec), fmtMs(o.P50Ms), fmtMs(o.P99Ms), fmtRatio(o.Ratio), toRef, o.Errors)
		}
	}
	p("\n")
	if lines := r.leads(); len(lines) > 0 {
		p("%s against the best other server, by ratio to bare: %s.\n\n", reference, strings.Join(lines, "; "))
	}

	var seeds []string
	for _, s := range r.Servers {
		if s.SeedUsersPerSec > 0 {
			seeds = append(seeds, fmt.Sprintf("%s %s/s", s.Name, thousands(s.SeedUsersPerSec)))
		}
	}
	if len(seeds) > 0 {
		p("Seeding (users created per second): %s.\n\n", strings.Join(seeds, ", "))
	}

	p("2xx/s counts successful answers only; p50 and p99 are over all answers. Ratio to bare divides a run's " +
		"2xx/s by what the same clients reached against a bare Go net/http handler (a fixed 1 KB body) just " +
		"before, so it holds better than req/s on a machine whose speed drifts; ratio to " + reference +
		" divides the two servers' ratios to bare. Member runs add a user to the group and remove it again " +
		"on the next op, so the group keeps its size; removes use `members[value eq \"…\"]`.\n")

	for _, s := range r.Servers {
		for _, o := range s.Ops {
			if o.Errors == 0 {
				continue
			}
			st := map[string]uint64{}
			for _, run := range o.Runs {
				for code, n := range run.Statuses {
					if c, _ := strconv.Atoi(code); c < 200 || c > 299 {
						st[code] += n
					}
				}
			}
			p("\n%s %s: %d errors by status (0 = no answer): %s.", s.Name, o.Op, o.Errors, fmtStatuses(st))
		}
		if s.Err != "" {
			p("\n%s failed: %s", s.Name, oneLine(s.Err))
		}
	}
	if !strings.HasSuffix(b.String(), "\n") {
		p("\n")
	}
	return b.String()
}

func (r *results) server(name string) *serverResult {
	for i := range r.Servers {
		if r.Servers[i].Name == name {
			return &r.Servers[i]
		}
	}
	return nil
}

// leads says, for each op, how many times the reference's ratio to bare is
// the best other server's, e.g. "GET /Users/{id} 14.2× (scimmy)".
func (r *results) leads() []string {
	ref := r.server(reference)
	if ref == nil {
		return nil
	}
	var lines []string
	for _, op := range r.Ops {
		ro, ok := ref.op(op)
		if !ok {
			continue
		}
		best, bestName := 0.0, ""
		for _, s := range r.Servers {
			if s.Name == reference {
				continue
			}
			if o, ok := s.op(op); ok && o.Ratio > best {
				best, bestName = o.Ratio, s.Name
			}
		}
		if best > 0 {
			lines = append(lines, fmt.Sprintf("%s %.1f× (%s)", opTitle(op, r.GroupSize), ro.Ratio/best, bestName))
		}
	}
	return lines
}

// thousands formats v rounded to an integer with thousands separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// fmtRatio gives a ratio three decimals, and small ones three significant
// digits, so that a slow server's figures still compare.
func fmtRatio(v float64) string {
	d := 3
	if v > 0 && v < 0.1 {
		d = min(2-int(math.Floor(math.Log10(v))), 8)
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 1:
		return fmt.Sprintf("%.2f ms", v)
	default:
		return fmt.Sprintf("%.0f µs", v*1000)
	}
}

func fmtStatuses(st map[string]uint64) string {
	var parts []string
	for code, n := range st {
		parts = append(parts, fmt.Sprintf("%s×%d", code, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// cell makes s safe in a markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", "\\|")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
