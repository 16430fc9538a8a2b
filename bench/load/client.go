package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// newHTTPClient returns a client that keeps a connection alive per worker,
// so no request pays for a TCP handshake, and that does not ask for gzip:
// inflating bodies would spend the client's share of the CPU, which is the
// machine's share too when the service runs beside it.
func newHTTPClient(conns int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// requester sends requests for one goroutine, reusing its read buffer
// between requests. Request bodies are not reused: the transport may still
// read one after Do returns (when the server answers before reading it), so
// each request gets its own. Not safe for concurrent use.
type requester struct {
	client *http.Client
	buf    bytes.Buffer  // the last response body, when kept
	sent   *atomic.Int64 // if not nil, counts requests sent
}

// do sends one request and reads the response body to the end, so the
// connection goes back to the pool. With keep, the body is left in r.buf;
// otherwise it is discarded. status is 0 when no response arrived.
func (r *requester) do(ctx context.Context, method, url, auth string, body []byte, keep bool) (status int, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	if r.sent != nil {
		r.sent.Add(1)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	req.Header["Authorization"] = []string{auth}
	req.Header["Accept"] = []string{"application/scim+json"}
	if body != nil {
		req.Header["Content-Type"] = []string{"application/scim+json"}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	r.buf.Reset()
	if keep {
		_, err = r.buf.ReadFrom(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}
