package events

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

const (
	// indexInterval is the spacing in bytes of the in-memory sparse index:
	// a Read from any offset scans at most this much of a segment (plus one
	// record) before its first record.
	indexInterval = 4 << 10
	// maxGroup caps how many queued appends one write and fsync cover.
	maxGroup = 1024
	// readBuffer is the read-ahead of a Read (and of the scan on open).
	readBuffer = 32 << 10
	// zeroAhead is how far past its records the committer fills the
	// current segment with zeros, in one write and fsync when an append
	// reaches past the zeros. An append over zeros changes neither the
	// file's size nor its blocks, so fdatasync makes it durable without a
	// journal commit: about half the time and CPU of an fsync that grows
	// the file. The zeros end the segment's records on open (openSegment)
	// and are cut off when the segment is sealed (roll).
	zeroAhead = 1 << 20
)

// zeros is what zeroAhead writes.
var zeros [zeroAhead]byte

// partition is one partition of the embedded log: its segments, the
// committer goroutine that writes and fsyncs them, and the end offset that
// readers wait on.
type partition struct {
	id       int
	dir      string
	segBytes int64
	log      *slog.Logger
	closing  <-chan struct{} // the log's: closed by Close

	reqs   chan *appendReq
	sendMu sync.RWMutex // guards closed and the close of reqs
	closed bool
	done   chan struct{} // closed when the committer has exited

	// Written by the committer only.
	next int64  // offset of the next record written
	wbuf []byte // write buffer of a group
	werr error  // sticky: after a failed write or fsync nothing more is written

	syncs atomic.Int64 // fsyncs of segments by the committer (for tests and benchmarks)

	beforeWrite func(partition int) // EmbeddedOptions.BeforeWrite

	mu     sync.RWMutex // guards segs, each segment's size and index, end, notify
	segs   []*segment
	end    int64         // records < end are fsynced and readable
	notify chan struct{} // closed and replaced whenever end moves
}

type segment struct {
	base  int64 // offset of the first record
	path  string
	f     *os.File
	size  int64        // bytes of fsynced records (under partition.mu)
	index []indexEntry // sparse, ascending (under partition.mu)

	wsize   int64 // bytes written (committer only)
	alloc   int64 // the file's size: wsize and the zeros after it (committer only)
	lastIdx int64 // position of the last index entry (committer only)
}

type indexEntry struct {
	off int64
	pos int64
}

type appendReq struct {
	frames []byte
	ends   []int // end of each record's frame in frames
	n      int
	done   chan appendResult // buffered: the committer never blocks on it

	handoff Handoff // the committer takes it, or its Append gives up on it (partition.append)
}

type appendResult struct {
	last int64
	err  error
}

func segmentName(base int64) string { return fmt.Sprintf("%020d.log", base) }

// openPartition opens the segments in dir, recovering the tail of the
// last, and starts the committer.
func openPartition(dir string, id int, segBytes int64, log *slog.Logger, closing <-chan struct{}, beforeWrite func(int)) (*partition, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, err
	}
	p := &partition{
		id: id, dir: dir, segBytes: segBytes, log: log.With("partition", id), closing: closing, beforeWrite: beforeWrite,
		reqs: make(chan *appendReq, maxGroup), done: make(chan struct{}), notify: make(chan struct{}),
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok {
			continue
		}
		base, err := strconv.ParseInt(name, 10, 64)
		if err != nil || base < 0 || segmentName(base) != e.Name() {
			return nil, fmt.Errorf("%w: unexpected segment file %s", ErrCorrupt, filepath.Join(dir, e.Name()))
		}
		bases = append(bases, base)
	}
	slices.Sort(bases)
	fail := func(err error) (*partition, error) {
		for _, s := range p.segs {
			s.f.Close()
		}
		return nil, err
	}
	for i, base := range bases {
		if i > 0 && base != p.next {
			return fail(fmt.Errorf("%w: segment %s starts at %d, previous ends at %d", ErrCorrupt, segmentName(base), base, p.next))
		}
		s, n, err := p.openSegment(base, i == len(bases)-1)
		if err != nil {
			return fail(err)
		}
		p.segs = append(p.segs, s)
		p.next = base + n
	}
	if len(p.segs) == 0 {
		s, err := p.createSegment(0)
		if err != nil {
			return fail(err)
		}
		p.segs = append(p.segs, s)
	}
	p.end = p.next
	go p.run()
	return p, nil
}

// openSegment scans a segment, building its sparse index. In the last
// segment, zeros from a frame's start to the end of the file are the zeros
// ahead of the records (zeroAhead), kept for the next appends; a bad or torn
// frame is a crash mid-write (never acknowledged): the file is truncated
// there. Anywhere else either is corruption.
func (p *partition) openSegment(base int64, last bool) (*segment, int64, error) {
	path := filepath.Join(p.dir, segmentName(base))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, err
	}
	s := &segment{base: base, path: path, f: f, lastIdx: -indexInterval}
	r := bufio.NewReaderSize(f, readBuffer)
	var (
		pos int64
		n   int64
		buf []byte
	)
	for {
		payload, err := readFrame(r, buf)
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, errTorn) && !errors.Is(err, errBadFrame) {
			f.Close()
			return nil, 0, fmt.Errorf("read %s: %w", path, err)
		}
		if err != nil {
			if !last {
				f.Close()
				return nil, 0, fmt.Errorf("%w: %s at byte %d (offset %d): %w", ErrCorrupt, path, pos, base+n, err)
			}
			fi, serr := f.Stat()
			if serr != nil {
				f.Close()
				return nil, 0, serr
			}
			zero, zerr := zeroFrom(f, pos, fi.Size())
			if zerr != nil {
				f.Close()
				return nil, 0, fmt.Errorf("read %s: %w", path, zerr)
			}
			if zero {
				s.size, s.wsize, s.alloc = pos, pos, fi.Size()
				return s, n, nil
			}
			if err := f.Truncate(pos); err != nil {
				f.Close()
				return nil, 0, fmt.Errorf("truncate torn tail of %s: %w", path, err)
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return nil, 0, fmt.Errorf("sync %s: %w", path, err)
			}
			p.log.Warn("truncated torn tail of the log", "segment", path, "offset", base+n,
				"pos", pos, "dropped_bytes", fi.Size()-pos, "err", err)
			break
		}
		buf = payload
		if pos-s.lastIdx >= indexInterval {
			s.index = append(s.index, indexEntry{off: base + n, pos: pos})
			s.lastIdx = pos
		}
		pos += frameHeaderLen + int64(len(payload))
		n++
	}
	s.size, s.wsize, s.alloc = pos, pos, pos
	return s, n, nil
}

// zeroFrom reports whether the bytes of f from pos to size are all zero.
func zeroFrom(f *os.File, pos, size int64) (bool, error) {
	buf := make([]byte, min(size-pos, readBuffer))
	for pos < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		pos += int64(n)
		if err == io.EOF {
			return true, nil // shrunk meanwhile: nothing of ours writes it
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// createSegment creates the empty segment starting at base and makes its
// directory entry durable.
func (p *partition) createSegment(base int64) (*segment, error) {
	path := filepath.Join(p.dir, segmentName(base))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if err := syncDir(p.dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("create segment: %w", err)
	}
	return &segment{base: base, path: path, f: f, lastIdx: -indexInterval}, nil
}

// submit queues req for the committer. A req that could not be queued
// before ctx ended was not, and never will be, written.
func (p *partition) submit(ctx context.Context, req *appendReq) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.sendMu.RLock()
	defer p.sendMu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.reqs <- req:
		return nil
	case <-ctx.Done():
		// The queue stayed full: the committer is stalled or far behind.
		return fmt.Errorf("%w: the append queue is full: %w", ErrUnavailable, ctx.Err())
	}
}

// stop lets the committer finish what is queued, then closes the files.
func (p *partition) stop() error {
	p.sendMu.Lock()
	if !p.closed {
		p.closed = true
		close(p.reqs)
	}
	p.sendMu.Unlock()
	<-p.done
	var errs []error
	p.mu.Lock()
	for _, s := range p.segs {
		errs = append(errs, s.f.Close())
	}
	p.mu.Unlock()
	return errors.Join(errs...)
}

// run is the committer: it takes whatever appends are queued, writes them
// with one write per segment touched and one fsync, then publishes the new
// end and releases their waiters. Appends that arrive meanwhile queue up
// for the next round: that is the group commit. An append whose caller
// gave up while it was queued is dropped, never written (Handoff).
func (p *partition) run() {
	defer close(p.done)
	group := make([]*appendReq, 0, maxGroup)
	for req := range p.reqs {
		group = group[:0]
		if req.handoff.Take() {
			group = append(group, req)
		}
	gather:
		for len(group) < maxGroup {
			select {
			case r, ok := <-p.reqs:
				if !ok {
					break gather
				}
				if r.handoff.Take() {
					group = append(group, r)
				}
			default:
				break gather
			}
		}
		if len(group) == 0 {
			continue
		}
		if p.beforeWrite != nil {
			p.beforeWrite(p.id)
		}
		p.commit(group)
		clear(group)
	}
}

// commit writes group durably and answers each of its appends: with the
// offset of its last record, or, once a write has failed, with the
// partition's write error.
func (p *partition) commit(group []*appendReq) {
	if p.werr != nil {
		p.fail(group)
		return
	}
	start := p.next
	touched, err := p.write(group)
	if err != nil {
		// The file may now hold part of this group. Nothing more is written
		// until the log is reopened, which truncates the torn tail; the
		// waiters learn that none or some of their records are durable.
		p.werr = fmt.Errorf("%w: %w", ErrUnavailable, err)
		p.log.Error("write to the log failed; appends fail until it is reopened", "err", err)
		p.fail(group)
		return
	}
	p.publish(touched)
	p.log.Debug("committed group", "appends", len(group), "records", p.next-start, "offset", start)
	off := start
	for _, r := range group {
		off += int64(r.n)
		r.done <- appendResult{last: off - 1}
	}
}

// fail answers every append of group with the partition's write error.
func (p *partition) fail(group []*appendReq) {
	for _, r := range group {
		r.done <- appendResult{err: p.werr}
	}
}

// pendingIndex holds the index entries a group adds to segment s, which
// readers see only once the group is durable (publish).
type pendingIndex struct {
	s     *segment
	index []indexEntry
}

// write writes the frames of group after the partition's end, rolling to a
// new segment before an append that would grow the current one past
// segBytes, and syncs them: with fdatasync when they overwrite the zeros
// ahead, else with the next zeros written after them and an fsync. It
// returns the segments written to, with their new index entries, in order.
func (p *partition) write(group []*appendReq) ([]pendingIndex, error) {
	s := p.segs[len(p.segs)-1]
	p.wbuf = p.wbuf[:0]
	touched := []pendingIndex{{s: s}}
	for _, r := range group {
		if s.wsize+int64(len(p.wbuf)) > 0 && s.wsize+int64(len(p.wbuf)+len(r.frames)) > p.segBytes {
			ns, err := p.roll(s)
			if err != nil {
				return nil, err
			}
			s = ns
			touched = append(touched, pendingIndex{s: s})
		}
		p.buffer(&touched[len(touched)-1], r)
	}
	grows := s.wsize+int64(len(p.wbuf)) > s.alloc
	if err := p.flush(s); err != nil {
		return nil, err
	}
	p.syncs.Add(1)
	if !grows {
		if err := syncData(s.f); err != nil {
			return nil, fmt.Errorf("sync %s: %w", s.path, err)
		}
		return touched, nil
	}
	if err := p.zeroAhead(s); err != nil {
		return nil, err
	}
	if err := s.f.Sync(); err != nil {
		return nil, fmt.Errorf("sync %s: %w", s.path, err)
	}
	return touched, nil
}

// zeroAhead fills segment s with zeros from its end to zeroAhead bytes
// past it, as far as the segment may grow (segBytes).
func (p *partition) zeroAhead(s *segment) error {
	n := min(zeroAhead, p.segBytes-s.wsize)
	s.alloc = s.wsize
	if n <= 0 {
		return nil
	}
	if _, err := s.f.WriteAt(zeros[:n], s.wsize); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	s.alloc = s.wsize + n
	return nil
}

// buffer adds the frames of r to the write buffer of segment pd.s, noting
// an index entry every indexInterval bytes, and advances the next offset.
func (p *partition) buffer(pd *pendingIndex, r *appendReq) {
	s := pd.s
	prev := 0
	for i, end := range r.ends {
		pos := s.wsize + int64(len(p.wbuf)+prev)
		if pos-s.lastIdx >= indexInterval {
			pd.index = append(pd.index, indexEntry{off: p.next + int64(i), pos: pos})
			s.lastIdx = pos
		}
		prev = end
	}
	p.wbuf = append(p.wbuf, r.frames...)
	p.next += int64(r.n)
}

// flush writes the write buffer at the end of segment s.
func (p *partition) flush(s *segment) error {
	if len(p.wbuf) == 0 {
		return nil
	}
	if _, err := s.f.WriteAt(p.wbuf, s.wsize); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	s.wsize += int64(len(p.wbuf))
	p.wbuf = p.wbuf[:0]
	return nil
}

// roll flushes segment s, cuts off its zeros ahead, syncs it and starts a
// new one at the next offset, which readers may list at once: it holds
// nothing they can read until publish. Only the last segment has zeros
// after its records.
func (p *partition) roll(s *segment) (*segment, error) {
	if err := p.flush(s); err != nil {
		return nil, err
	}
	if s.alloc > s.wsize {
		if err := s.f.Truncate(s.wsize); err != nil {
			return nil, fmt.Errorf("trim %s: %w", s.path, err)
		}
		s.alloc = s.wsize
	}
	p.syncs.Add(1)
	if err := s.f.Sync(); err != nil {
		return nil, fmt.Errorf("sync %s: %w", s.path, err)
	}
	ns, err := p.createSegment(p.next)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.segs = append(p.segs, ns)
	p.mu.Unlock()
	p.log.Info("rolled segment", "segment", ns.path, "offset", p.next)
	return ns, nil
}

// publish makes a durable group visible to readers: the segments' sizes
// and index entries, the partition's end, and a wake-up of its waiters.
func (p *partition) publish(touched []pendingIndex) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range touched {
		t.s.size = t.s.wsize
		t.s.index = append(t.s.index, t.index...)
	}
	p.end = p.next
	close(p.notify)
	p.notify = make(chan struct{})
}

// read implements Log.Read for this partition.
func (p *partition) read(ctx context.Context, from int64, fn func(Record) error) error {
	var (
		buf []byte
		rd  = bufio.NewReaderSize(nil, readBuffer)
	)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-p.closing:
			return fmt.Errorf("read: %w", ErrClosed)
		default:
		}
		p.mu.RLock()
		end, notify := p.end, p.notify
		p.mu.RUnlock()
		if from >= end {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-p.closing:
				return fmt.Errorf("read: %w", ErrClosed)
			case <-notify:
			}
			continue
		}
		var err error
		from, buf, err = p.readSegment(ctx, from, end, rd, buf, fn)
		if err != nil {
			select {
			case <-p.closing: // the files were closed under the read
				return fmt.Errorf("read: %w: %w", ErrClosed, err)
			default:
				return err
			}
		}
	}
}

// readSegment calls fn for the records from from up to end or the end of
// the segment holding from, and returns the offset after the last one. r
// and buf are reused between calls.
func (p *partition) readSegment(ctx context.Context, from, end int64, r *bufio.Reader, buf []byte, fn func(Record) error) (int64, []byte, error) {
	p.mu.RLock()
	i := sort.Search(len(p.segs), func(i int) bool { return p.segs[i].base > from }) - 1
	s := p.segs[i]
	if i+1 < len(p.segs) {
		end = min(end, p.segs[i+1].base)
	}
	size, index := s.size, s.index
	p.mu.RUnlock()

	off, pos := s.base, int64(0)
	if j := sort.Search(len(index), func(j int) bool { return index[j].off > from }) - 1; j >= 0 {
		off, pos = index[j].off, index[j].pos
	}
	r.Reset(io.NewSectionReader(s.f, pos, size-pos))
	for ; off < end; off++ {
		payload, err := readFrame(r, buf)
		if err != nil {
			if errors.Is(err, errTorn) || errors.Is(err, errBadFrame) || err == io.EOF {
				err = fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			return off, buf, fmt.Errorf("read %s offset %d: %w", s.path, off, err)
		}
		buf = payload
		if off < from {
			continue
		}
		if err := ctx.Err(); err != nil {
			return off, buf, err
		}
		key, hs, val, err := decodePayload(payload)
		if err != nil {
			return off, buf, fmt.Errorf("read %s offset %d: %w", s.path, off, err)
		}
		// A well-formed frame holding no record of this contract comes
		// with Err set.
		if err := fn(DecodeRecord(p.id, off, key, hs, val)); err != nil {
			return off, buf, err
		}
	}
	return off, buf, nil
}
