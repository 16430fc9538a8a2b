package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// bareBody is the bare server's answer to everything: 1 KiB of JSON, about
// the size of a seeded user as the service returns it.
var bareBody = func() []byte {
	var b bytes.Buffer
	b.WriteString(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"bare","pad":"`)
	for b.Len() < 1024-2 {
		b.WriteByte('x')
	}
	b.WriteString(`"}`)
	return b.Bytes()
}()

// bareServer is the baseline: plain net/http on loopback answering every
// request with bareBody and 200. What the client reaches against it is the
// most this machine's client and network stack can do with the same workers,
// so the service's throughput divided by it is a figure that holds when the
// machine's speed drifts.
type bareServer struct {
	srv *http.Server
	ln  net.Listener
}

func startBare() (*bareServer, error) {
	return listenBare("127.0.0.1:0")
}

func listenBare(addr string) (*bareServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	length := strconv.Itoa(len(bareBody))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hd := w.Header()
		hd["Content-Type"] = []string{"application/scim+json"}
		hd["Content-Length"] = []string{length}
		w.Write(bareBody)
	})
	b := &bareServer{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go b.srv.Serve(ln)
	return b, nil
}

// URL is the base URL to drive, in the shape of the service's.
func (b *bareServer) URL() string { return "http://" + b.ln.Addr().String() + "/scim/v2" }

// Close stops the server. net/http's Shutdown counts a connection that was
// opened but never sent a request as busy for its first 5 seconds, and a
// driver with spare clients leaves such connections behind; so after a
// short graceful wait the rest are closed.
func (b *bareServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
		return b.srv.Close()
	} else if err != nil {
		return err
	}
	return nil
}

// serveBare serves the bare handler on addr until ctx is done: the baseline
// as a process of its own, like the service, for --baseline-url. Driving an
// in-process bare server is cheaper than driving any other process (the
// client and server share one Go scheduler), so a service in its own
// process compares fairly only with a bare server in its own process.
func serveBare(ctx context.Context, addr string, stderr io.Writer) error {
	b, err := listenBare(addr)
	if err != nil {
		return fmt.Errorf("--serve-bare: %w", err)
	}
	// The URL goes to stdout, alone on its line, for a parent tool to read.
	fmt.Fprintln(os.Stdout, b.URL())
	fmt.Fprintf(stderr, "bare server: %s (interrupt to stop)\n", b.URL())
	<-ctx.Done()
	return b.Close()
}

// childEnv marks the tool's child process (see load_test.go's TestMain).
const childEnv = "SCIM_LOAD_BARE_CHILD"

// bareProcess is the bare server running as a child process of the tool
// (the tool's own binary with --serve-bare), so that, like the service, it
// is driven across processes.
type bareProcess struct {
	cmd *exec.Cmd
	url string
}

// startBareProcess starts the child and reads the URL it listens on from
// the first line of its standard output.
func startBareProcess(ctx context.Context) (*bareProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "--serve-bare", "127.0.0.1:0")
	// A test binary is not the tool: this tells its TestMain to act as one.
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("no URL from %s --serve-bare: %w", exe, err)
	}
	return &bareProcess{cmd: cmd, url: strings.TrimSpace(line)}, nil
}

// baseline is the bare server a run measures first.
type baseline struct {
	url   string
	where string                        // reported: "child process", "in-process" or the URL
	stop  func() (time.Duration, error) // ends it; the CPU time it used when known (a child's)
}

// startBaseline starts the bare server a run measures against: none when
// url names one already running, one in this process when inProcess, else
// a child process.
func startBaseline(ctx context.Context, url string, inProcess bool) (*baseline, error) {
	switch {
	case url != "":
		return &baseline{url: url, where: url, stop: func() (time.Duration, error) { return 0, nil }}, nil
	case inProcess:
		b, err := startBare()
		if err != nil {
			return nil, fmt.Errorf("start bare server: %w", err)
		}
		return &baseline{url: b.URL(), where: "in-process", stop: func() (time.Duration, error) { return 0, b.Close() }}, nil
	}
	child, err := startBareProcess(ctx)
	if err != nil {
		return nil, fmt.Errorf("start bare server process: %w", err)
	}
	return &baseline{url: child.url, where: "child process", stop: child.stop}, nil
}

// stop interrupts the child, waits for it and returns the CPU time it used.
func (b *bareProcess) stop() (time.Duration, error) {
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		return 0, err
	}
	if err := b.cmd.Wait(); err != nil {
		return 0, err
	}
	st := b.cmd.ProcessState
	return st.UserTime() + st.SystemTime(), nil
}
