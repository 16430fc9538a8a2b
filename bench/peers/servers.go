package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is how to start one SCIM server on a loopback port and what to
// tell bench/load about it.
type server struct {
	name string
	// about says what runs, for the table's list of versions.
	about string
	// basePath is the path of its SCIM endpoints, e.g. "/scim/v2".
	basePath string
	// command returns the command serving on 127.0.0.1:port with the bearer
	// token, given the module root and the built binaries; dataDir is a
	// fresh folder the server may use.
	command func(root string, bins binaries, port int, token, dataDir string) *exec.Cmd
	// version reports the versions that run, e.g. "scim2-server 0.8.3".
	version func(ctx context.Context, root string, bins binaries) (string, error)
}

// memberRemove is the shape of every server's member removes: one every
// server here takes (scim2-server refuses a remove carrying a value), so
// that all are sent the same requests.
const memberRemove = "filter"

// venvDir and scimmyDir are where bench/peers/install puts the peers,
// relative to the module root.
const (
	venvDir   = ".venv/bench-peers"
	scimmyDir = "bench/peers/scimmy"
)

var servers = []server{
	{
		name:     "scim-bridge",
		about:    "this repository's build, on its embedded log with a fresh data directory",
		basePath: "/scim/v2",
		command: func(root string, bins binaries, port int, token, dataDir string) *exec.Cmd {
			cmd := exec.Command(bins.scimBridge, "serve")
			cmd.Env = append(os.Environ(),
				"SCIM_LISTEN=127.0.0.1:"+strconv.Itoa(port), "SCIM_ADMIN_LISTEN=off",
				"SCIM_DATA_DIR="+dataDir, "SCIM_TOKEN="+token, "SCIM_LOG_LEVEL=warn", "KAFKA_BROKERS=")
			return cmd
		},
		version: func(ctx context.Context, root string, bins binaries) (string, error) {
			v, err := output(ctx, root, bins.scimBridge, "version")
			return v + " at " + gitCommit(ctx, root) + ", " + goVersion(ctx, root), err
		},
	},
	{
		name:     "scim2-server",
		about:    "the scim2-server package's ASGI application over its in-memory storage (bench/peers/scim2_server_app.py), one uvicorn worker with uvloop and httptools",
		basePath: "/v2",
		command: func(root string, bins binaries, port int, token, dataDir string) *exec.Cmd {
			cmd := exec.Command(filepath.Join(root, venvDir, "bin", "uvicorn"),
				"--app-dir", filepath.Join(root, "bench", "peers"), "--host", "127.0.0.1", "--port", strconv.Itoa(port),
				"--workers", "1", "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
				"scim2_server_app:app")
			cmd.Env = append(os.Environ(), "PEER_TOKEN="+token)
			return cmd
		},
		version: func(ctx context.Context, root string, bins binaries) (string, error) {
			return output(ctx, root, filepath.Join(root, venvDir, "bin", "python"), "-c",
				`import importlib.metadata as m, sys; v = m.version; `+
					`print(f"scim2-server {v('scim2-server')} (scim2-models {v('scim2-models')}), uvicorn {v('uvicorn')}, uvloop {v('uvloop')}, httptools {v('httptools')}, Python {sys.version.split()[0]}")`)
		},
	},
	{
		name:     "scimmy",
		about:    "the scimmy and scimmy-routers packages on Express, behind a minimal in-memory store with a userName index (bench/peers/scimmy/server.mjs), one Node.js process",
		basePath: "/scim/v2",
		command: func(root string, bins binaries, port int, token, dataDir string) *exec.Cmd {
			cmd := exec.Command("node", filepath.Join(root, scimmyDir, "server.mjs"), "127.0.0.1", strconv.Itoa(port))
			cmd.Env = append(os.Environ(), "PEER_TOKEN="+token, "NODE_ENV=production")
			return cmd
		},
		version: func(ctx context.Context, root string, bins binaries) (string, error) {
			var parts []string
			for _, p := range []string{"scimmy", "scimmy-routers", "express"} {
				v, err := packageVersion(filepath.Join(root, scimmyDir, "node_modules", p, "package.json"))
				if err != nil {
					return "", fmt.Errorf("%v (run bench/peers/install)", err)
				}
				parts = append(parts, p+" "+v)
			}
			nv, err := output(ctx, root, "node", "--version")
			return strings.Join(parts, ", ") + ", Node.js " + nv, err
		},
	},
}

func serverNames() []string {
	var names []string
	for _, s := range servers {
		names = append(names, s.name)
	}
	return names
}

func byName(name string) server {
	for _, s := range servers {
		if s.name == name {
			return s
		}
	}
	panic("unknown server " + name)
}

// binaries are the programs built from the module.
type binaries struct{ scimBridge, load string }

// build builds scim-bridge and bench/load into dir.
func build(ctx context.Context, root, dir string, log io.Writer) (binaries, error) {
	b := binaries{scimBridge: filepath.Join(dir, "scim-bridge"), load: filepath.Join(dir, "load")}
	fmt.Fprintln(log, "peers: building scim-bridge and bench/load...")
	for _, x := range []struct{ out, pkg string }{{b.scimBridge, "."}, {b.load, "./bench/load"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", x.out, x.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", x.pkg, err, out)
		}
	}
	return b, nil
}

// output runs a command in dir and returns its trimmed standard output.
func output(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// gitCommit names the worktree's commit, with "+changes" when tracked files
// differ from it.
func gitCommit(ctx context.Context, root string) string {
	c, err := output(ctx, root, "git", "rev-parse", "--short=12", "HEAD")
	if err != nil {
		return "an unknown commit"
	}
	if st, err := output(ctx, root, "git", "status", "--porcelain", "--untracked-files=no"); err == nil && st != "" {
		c += "+changes"
	}
	return "commit " + c
}

func goVersion(ctx context.Context, root string) string {
	v, err := output(ctx, root, "go", "env", "GOVERSION")
	if err != nil {
		return "Go (version unknown)"
	}
	return v
}

func packageVersion(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var p struct{ Version string }
	if err := json.Unmarshal(b, &p); err != nil || p.Version == "" {
		return "", fmt.Errorf("%s: no version", path)
	}
	return p.Version, nil
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the server binds it; the server then fails to start, and
// says so in its log.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// process is a started server.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when it exited
	err     error         // its exit, once done is closed
	logPath string
}

// start starts cmd in a process group of its own, its output going to
// logPath.
func start(cmd *exec.Cmd, logPath string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{}), logPath: logPath}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group, and SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// logTail is the end of the process's log, for error messages.
func (p *process) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// waitReady polls base's ServiceProviderConfig with the token until it
// answers 200, the process exits or timeout passes.
func waitReady(ctx context.Context, p *process, base, token string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	cl := &http.Client{Timeout: 2 * time.Second}
	last := "no answer"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ServiceProviderConfig", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := cl.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = "status " + resp.Status
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before it answered (%v): %s", p.err, p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not answer 200 within %s (last: %s): %s", timeout, last, p.logTail())
		}
	}
}
