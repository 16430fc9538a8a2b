// Command kafkaready is the Go half of scripts/kafka/kafka.sh: it picks free
// TCP ports for the broker and waits until the broker answers a real
// Metadata request through kafka-go, the client scim-bridge uses, so "ready"
// means "our client can talk to it", not merely "the port is open".
//
//	kafkaready ports N                      print N free ports on 127.0.0.1
//	kafkaready wait -addr HOST:PORT [-timeout 90s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kafkaready:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: kafkaready ports N | wait -addr HOST:PORT [-timeout D]")
	}
	switch args[0] {
	case "ports":
		n := 1
		if len(args) > 1 {
			var err error
			if n, err = strconv.Atoi(args[1]); err != nil {
				return fmt.Errorf("ports: %w", err)
			}
		}
		return ports(n)
	case "wait":
		fs := flag.NewFlagSet("wait", flag.ContinueOnError)
		addr := fs.String("addr", "", "broker address HOST:PORT")
		timeout := fs.Duration("timeout", 90*time.Second, "give up after")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *addr == "" {
			return errors.New("wait: -addr is required")
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		return wait(ctx, *addr)
	}
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// ports holds all n listeners open until every port is known, so the n
// ports are distinct.
func ports(n int) error {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		ls = append(ls, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

// wait polls Metadata until the broker lists itself (a KRaft broker does so
// once it is registered and unfenced) or ctx ends.
func wait(ctx context.Context, addr string) error {
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 5 * time.Second}
	var last error
	for {
		res, err := c.Metadata(ctx, &kafka.MetadataRequest{})
		switch {
		case err != nil:
			last = err
		case len(res.Brokers) == 0:
			last = errors.New("metadata lists no broker yet")
		default:
			return nil
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("broker %s not ready: %w (last: %v)", addr, ctx.Err(), last)
		case <-t.C:
		}
	}
}
