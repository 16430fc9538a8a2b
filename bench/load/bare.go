package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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

func (b *bareServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return b.srv.Shutdown(ctx)
}
