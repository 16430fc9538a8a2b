package events

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// Errors of the embedded log.
var (
	// ErrClosed is returned (wrapped) by Append and Read on a closed log.
	ErrClosed = errors.New("event log closed")
	// ErrLocked is returned (wrapped) by OpenEmbedded when another process
	// holds the log.
	ErrLocked = errors.New("event log locked")
	// ErrCorrupt is returned (wrapped) when the embedded log finds bytes
	// it did not write anywhere but at the tail of the last segment.
	ErrCorrupt = errors.New("event log corrupt")
)

// Defaults of EmbeddedOptions.
const (
	DefaultSegmentBytes = 64 << 20
	metaFile            = "meta.json"
)

// The log holds every tenant's personal data: what it creates only the
// user running scim-bridge can read (the umask may take more away, never
// add), and OpenEmbedded takes group and other access away from what it
// finds (see tightenModes).
const (
	dirMode  os.FileMode = 0o700
	fileMode os.FileMode = 0o600
)

// EmbeddedOptions configure OpenEmbedded. The zero value is a safe default.
type EmbeddedOptions struct {
	// Logger receives lifecycle and recovery messages; nil discards them.
	Logger *slog.Logger
	// Partitions is the number of partitions of a new log (0 means 1). An
	// existing log keeps the number it was created with: a non-zero value
	// that differs is an error, because it would move tenants between
	// partitions.
	Partitions int
	// SegmentBytes is the size at which a partition starts a new segment
	// file (0 means DefaultSegmentBytes). A record is never split, so a
	// segment can exceed it by one record.
	SegmentBytes int64
	// BeforeWrite, when set, is called by a partition's committer, with
	// the partition's number, after it has taken a group of appends and
	// before it writes them: tests block in it to stall the log as a hung
	// disk would. nil in production.
	BeforeWrite func(partition int)
}

// Embedded is the durable, single-machine Log: the default when no Kafka
// is configured.
//
// Layout of dir:
//
//	LOCK                              flock held while open
//	meta.json                         {"partitions": N}, written once
//	partition-0000/00000000000000000000.log   segments; the name is the
//	partition-0000/00000000000000004711.log   offset of the first record
//
// Segments hold CRC-framed records whose payload is exactly what Encode
// produced (see embedded_record.go), so the embedded and Kafka logs carry
// the same bytes. Append returns after fsync; concurrent Appends to a
// partition share one write and one fsync (group commit), so throughput
// grows with concurrency. On open, a torn or corrupt tail of the last
// segment (a crash mid-write: never acknowledged) is truncated and logged;
// damage anywhere else fails the open with ErrCorrupt. Nothing is ever
// deleted: the log is the source of truth. Directories are created 0700
// and files 0600; on open, group and other permissions are removed from
// everything in dir.
//
// Safe for concurrent use.
type Embedded struct {
	dir     string
	log     *slog.Logger
	lock    *os.File
	parts   []*partition
	closing chan struct{} // closed by Close: wakes blocked reads

	closeOnce sync.Once
	closeErr  error
}

var _ Log = (*Embedded)(nil)

// OpenEmbedded opens (creating if needed) the embedded log in dir.
func OpenEmbedded(dir string, opts EmbeddedOptions) (*Embedded, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "events.embedded")
	segBytes := opts.SegmentBytes
	if segBytes <= 0 {
		segBytes = DefaultSegmentBytes
	}
	if opts.Partitions < 0 {
		return nil, fmt.Errorf("open embedded log: partitions %d < 0", opts.Partitions)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("open embedded log: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open embedded log: %w", err)
	}
	tightenModes(dir, logger)
	l := &Embedded{dir: dir, log: logger, lock: lock, closing: make(chan struct{})}
	n, err := l.partitionCount(opts.Partitions)
	if err == nil {
		for i := range n {
			var p *partition
			p, err = openPartition(filepath.Join(dir, fmt.Sprintf("partition-%04d", i)), i, segBytes, logger, l.closing, opts.BeforeWrite)
			if err != nil {
				break
			}
			l.parts = append(l.parts, p)
		}
	}
	if err != nil {
		for _, p := range l.parts {
			p.stop()
		}
		_ = unlockDir(lock)
		return nil, fmt.Errorf("open embedded log %s: %w", dir, err)
	}
	end, _ := l.End(context.Background())
	logger.Info("opened embedded log", "dir", dir, "partitions", n, "end", end)
	return l, nil
}

// partitionCount reads the partition count of an existing log, or records
// want (default 1) for a new one.
func (l *Embedded) partitionCount(want int) (int, error) {
	path := filepath.Join(l.dir, metaFile)
	var meta struct {
		Partitions int `json:"partitions"`
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &meta); err != nil || meta.Partitions < 1 {
			return 0, fmt.Errorf("%w: %s: %q", ErrCorrupt, metaFile, b)
		}
		if want != 0 && want != meta.Partitions {
			return 0, fmt.Errorf("log has %d partitions, options ask for %d", meta.Partitions, want)
		}
		return meta.Partitions, nil
	case !errors.Is(err, os.ErrNotExist):
		return 0, err
	}
	meta.Partitions = max(want, 1)
	b, _ = json.Marshal(meta)
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, b); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, err
	}
	return meta.Partitions, syncDir(l.dir)
}

// Partitions implements Log.
func (l *Embedded) Partitions() int { return len(l.parts) }

// Append implements Log. It encodes evs in the caller's goroutine, hands
// the frames to the partition's committer and waits for the fsync that
// covers them. If ctx ends while they are queued, they are dropped, never
// written, and Append fails; if the committer has taken them already,
// Append waits for the outcome of that write, however late (a hung disk
// hangs it, as it hangs every later append of the partition anyway).
func (l *Embedded) Append(ctx context.Context, evs []Event) (int, int64, error) {
	if len(evs) == 0 {
		return 0, 0, errors.New("append: no events")
	}
	tenant := evs[0].Tenant
	req := &appendReq{n: len(evs), done: make(chan appendResult, 1)}
	for i := range evs {
		if evs[i].Tenant != tenant {
			return 0, 0, fmt.Errorf("append: events of tenants %q and %q in one batch", tenant, evs[i].Tenant)
		}
		key, hs, val, err := Encode(&evs[i])
		if err != nil {
			return 0, 0, fmt.Errorf("append: %w", err)
		}
		if req.frames, err = appendFrame(req.frames, key, hs, val); err != nil {
			return 0, 0, fmt.Errorf("append event %s: %w", evs[i].ID, err)
		}
		req.ends = append(req.ends, len(req.frames))
	}
	p := l.parts[PartitionFor(tenant, len(l.parts))]
	last, err := p.append(ctx, req)
	if err != nil {
		return p.id, 0, fmt.Errorf("append: %w", err)
	}
	return p.id, last, nil
}

// AppendClaim implements Log, as Append does.
func (l *Embedded) AppendClaim(ctx context.Context, c Claim) (int64, error) {
	if c.Partition >= len(l.parts) {
		return 0, fmt.Errorf("append claim: partition %d out of range [0, %d)", c.Partition, len(l.parts))
	}
	key, hs, val, err := EncodeClaim(&c)
	if err != nil {
		return 0, fmt.Errorf("append claim: %w", err)
	}
	req := &appendReq{n: 1, done: make(chan appendResult, 1)}
	if req.frames, err = appendFrame(req.frames, key, hs, val); err != nil {
		return 0, fmt.Errorf("append claim %s: %w", c.ID, err)
	}
	req.ends = append(req.ends, len(req.frames))
	off, err := l.parts[c.Partition].append(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("append claim: %w", err)
	}
	return off, nil
}

// append hands req to the partition's committer and waits for the fsync
// that covers it, returning the offset of its last record. When ctx ends
// first, req is abandoned if the committer has not taken it yet (it is then
// never written); else append waits for the committer's outcome, so that
// when it returns, req's records are in the log or never will be.
func (p *partition) append(ctx context.Context, req *appendReq) (int64, error) {
	if err := p.submit(ctx, req); err != nil {
		return 0, err
	}
	var res appendResult
	select {
	case res = <-req.done:
	case <-ctx.Done():
		if req.handoff.Abandon() {
			return 0, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
		res = <-req.done // taken: every taken request is answered
	}
	if res.err != nil {
		return 0, res.err
	}
	return res.last, nil
}

// End implements Log: per partition, the offset after the last fsynced
// record.
func (l *Embedded) End(ctx context.Context) ([]int64, error) {
	select {
	case <-l.closing:
		return nil, fmt.Errorf("end: %w", ErrClosed)
	default:
	}
	end := make([]int64, len(l.parts))
	for i, p := range l.parts {
		p.mu.RLock()
		end[i] = p.end
		p.mu.RUnlock()
	}
	return end, nil
}

// Read implements Log. Only fsynced records are read. A record that fails
// its CRC or does not decode ends Read with an error wrapping ErrCorrupt.
func (l *Embedded) Read(ctx context.Context, p int, from int64, fn func(Record) error) error {
	if p < 0 || p >= len(l.parts) {
		return fmt.Errorf("read: partition %d out of range [0, %d)", p, len(l.parts))
	}
	return l.parts[p].read(ctx, max(from, 0), fn)
}

// Close implements Log: it waits for appends already handed to the
// committers, wakes blocked reads (they return ErrClosed), closes the
// segment files and releases the lock. A second Close returns the first
// one's result.
func (l *Embedded) Close() error {
	l.closeOnce.Do(func() {
		close(l.closing)
		var errs []error
		for _, p := range l.parts {
			errs = append(errs, p.stop())
		}
		errs = append(errs, unlockDir(l.lock))
		l.closeErr = errors.Join(errs...)
		l.log.Info("closed embedded log", "dir", l.dir)
	})
	return l.closeErr
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tightenModes removes group and other permissions from dir and every
// directory and regular file in it (symbolic links are left alone: a chmod
// would follow them), for a log written before its files were created
// private, or copied with looser modes. We own the log directory, so it is
// ours to tighten; what fails (a file of another owner) is logged, not
// fatal: the log is still usable, and the warning says what to fix.
func tightenModes(dir string, log *slog.Logger) {
	var n, failed int
	var firstErr error
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			failed++
			firstErr = cmp.Or(firstErr, err)
			return nil
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			failed++
			firstErr = cmp.Or(firstErr, err)
			return nil
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(path, perm&^0o077); err != nil {
				failed++
				firstErr = cmp.Or(firstErr, err)
				return nil
			}
			n++
		}
		return nil
	})
	if n > 0 {
		log.Info("removed group and other permissions from the embedded log", "dir", dir, "files", n)
	}
	if failed > 0 {
		log.Warn("could not make the embedded log private to its user", "dir", dir, "files", failed, "err", firstErr)
	}
}

// syncDir fsyncs a directory so that files created or renamed in it survive
// a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
