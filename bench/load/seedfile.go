package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// seedFile records what seeding made (--seed-file), so that later runs with
// --skip-seed read the ids instead of finding them by listing: a server that
// pages only by startIndex, or slowly, is then measured without a discovery
// that costs more than the run.
type seedFile struct {
	URL     string           `json:"url"`
	Tenants []seedFileTenant `json:"tenants"`
}

type seedFileTenant struct {
	Name      string   `json:"name"`
	Users     []string `json:"users"` // Users[j] is the id of the user named userName(j)
	Groups    int      `json:"groups"`
	GroupID   string   `json:"group_id,omitempty"`
	GroupSize int      `json:"group_size"`
}

// writeSeedFile writes the seeded tenants of base to path, through a
// temporary file so that an interrupted write leaves no partial file.
func writeSeedFile(path, base string, ts []*tenant) error {
	sf := seedFile{URL: base}
	for _, t := range ts {
		sf.Tenants = append(sf.Tenants, seedFileTenant{Name: t.name, Users: t.users, Groups: t.groups, GroupID: t.groupID, GroupSize: t.groupSize})
	}
	b, err := json.Marshal(sf)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".seed-*")
	if err != nil {
		return fmt.Errorf("--seed-file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("--seed-file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--seed-file: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// readSeedFile fills ts from a seed file written by seeding base with the
// same tenants and opts; any difference is an error, since the run would
// otherwise drive ids the server does not hold, or a group of another size.
func readSeedFile(path, base string, ts []*tenant, opts seedOptions) (seedStats, error) {
	start := time.Now()
	st := seedStats{Skipped: true, FromFile: path, Users: opts.users}
	b, err := os.ReadFile(path)
	if err != nil {
		return st, fmt.Errorf("--seed-file: %w", err)
	}
	var sf seedFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return st, fmt.Errorf("--seed-file %s: %w", path, err)
	}
	mismatch := func(format string, args ...any) error {
		return fmt.Errorf("--seed-file %s: "+format+"; seed again with these flags", append([]any{path}, args...)...)
	}
	if sf.URL != base {
		return st, mismatch("seeded %s, not %s", sf.URL, base)
	}
	if len(sf.Tenants) != len(ts) {
		return st, mismatch("has %d tenant(s), the run speaks for %d", len(sf.Tenants), len(ts))
	}
	T := len(ts)
	for i, t := range ts {
		ft := sf.Tenants[i]
		users, groups := spread(opts.users, T, i), spread(opts.groups, T, i)
		size := 0
		if groups > 0 {
			size = min(opts.groupSize, users)
		}
		switch {
		case ft.Name != t.name:
			return st, mismatch("tenant %d is %q, the run's is %q", i+1, ft.Name, t.name)
		case len(ft.Users) != users:
			return st, mismatch("tenant %s has %d users, --users gives it %d", t.name, len(ft.Users), users)
		case ft.Groups != groups:
			return st, mismatch("tenant %s has %d groups, --groups gives it %d", t.name, ft.Groups, groups)
		case ft.GroupSize != size:
			return st, mismatch("tenant %s's big group has %d members, --group-size gives it %d", t.name, ft.GroupSize, size)
		case groups > 0 && ft.GroupID == "":
			return st, mismatch("tenant %s has no big group id", t.name)
		}
		for j, id := range ft.Users {
			if id == "" {
				return st, mismatch("tenant %s's user %d has no id", t.name, j)
			}
		}
		t.users, t.groups, t.groupID, t.groupSize = ft.Users, ft.Groups, ft.GroupID, ft.GroupSize
		st.Groups += groups
	}
	st.Seconds = time.Since(start).Seconds()
	return st, nil
}
