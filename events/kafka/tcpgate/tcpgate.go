// Package tcpgate is a test helper: a TCP address in front of a real server
// whose behaviour a test switches, to play a server that is down in the two
// ways that matter to a client. Refusing: nothing listens, so a connection
// is refused at once. Hanging: connections are accepted and never answered,
// as a frozen process or a black-holed network path. Forwarding: every
// connection, including those held while hanging, is relayed to the target.
//
// Only tests import it.
package tcpgate

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Gate is a TCP address on 127.0.0.1 that refuses, hangs or forwards.
// It starts refusing. Safe for concurrent use.
type Gate struct {
	t      testing.TB
	addr   string
	target string

	mu      sync.Mutex
	ln      net.Listener // nil while refusing
	forward bool
	held    []net.Conn // accepted while hanging
	conns   []net.Conn // every connection, to close at the end
	closed  bool
	wg      sync.WaitGroup
}

// New returns a refusing Gate in front of target ("host:port"); it is
// closed when the test ends.
func New(t testing.TB, target string) *Gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{t: t, addr: ln.Addr().String(), target: target}
	ln.Close() // reserved the port; nothing listens now
	t.Cleanup(g.close)
	return g
}

// Addr is the gate's address.
func (g *Gate) Addr() string { return g.addr }

// Hang accepts connections from now on and holds them unanswered;
// connections already relayed stay relayed.
func (g *Gate) Hang() {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.listenLocked()
	g.forward = false
}

// Forward relays every connection to the target from now on, including
// those held while hanging.
func (g *Gate) Forward() {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.listenLocked()
	g.forward = true
	for _, c := range g.held {
		g.relayLocked(c)
	}
	g.held = nil
}

func (g *Gate) listenLocked() {
	if g.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", g.addr)
	if err != nil {
		g.t.Fatalf("tcpgate: listen again on %s: %v", g.addr, err)
	}
	g.ln = ln
	g.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.mu.Lock()
			if g.closed {
				g.mu.Unlock()
				c.Close()
				return
			}
			g.conns = append(g.conns, c)
			if g.forward {
				g.relayLocked(c)
			} else {
				g.held = append(g.held, c)
			}
			g.mu.Unlock()
		}
	})
}

// relayLocked copies c to a new connection to the target and back.
func (g *Gate) relayLocked(c net.Conn) {
	g.wg.Go(func() {
		up, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			return
		}
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			up.Close()
			c.Close()
			return
		}
		g.conns = append(g.conns, up)
		g.mu.Unlock()
		done := make(chan struct{}, 2)
		go func() { io.Copy(up, c); up.Close(); done <- struct{}{} }()
		go func() { io.Copy(c, up); c.Close(); done <- struct{}{} }()
		<-done
		<-done
	})
}

func (g *Gate) close() {
	g.mu.Lock()
	g.closed = true
	if g.ln != nil {
		g.ln.Close()
	}
	for _, c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}
