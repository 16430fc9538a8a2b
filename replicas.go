package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/kafka"
	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/scimhttp"
)

// Several replicas (docs/replicas.md). With Kafka, write ownership is always
// on: every replica joins the writers' group, and a replica alone in it is
// given, and claims, every partition. So one replica and several run the
// same way, and a second one can join at any time. The embedded log is one
// process's (its lock refuses a second): no group, no claims, no
// forwarding.

// newOwner returns this replica's write ownership on a Kafka log, nil on the
// embedded log. addr is the SCIM listener's address, for the default
// advertised URL.
func newOwner(c config, l events.Log, store *projection.Store, addr net.Addr, logger *slog.Logger, reg prometheus.Registerer) (*kafka.Owner, error) {
	kl, ok := l.(*kafka.Log)
	if !ok {
		return nil, nil
	}
	advertise := c.AdvertiseURL
	if advertise == "" {
		var err error
		if advertise, err = defaultAdvertise(addr); err != nil {
			return nil, err
		}
	}
	own, err := kafka.NewOwner(kl, store, kafka.OwnerOptions{
		GroupID:        c.KafkaGroupID,
		Advertise:      advertise,
		SessionTimeout: c.KafkaSessionTimeout,
		Logger:         logger,
		Registerer:     reg,
	})
	if err != nil {
		return nil, fmt.Errorf("SCIM_ADVERTISE_URL: %w", err)
	}
	return own, nil
}

// defaultAdvertise is http://HOST:PORT of the SCIM listener, HOST the
// machine's host name when the listener has no host of its own (":8080").
func defaultAdvertise(addr net.Addr) (string, error) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "", fmt.Errorf("SCIM_ADVERTISE_URL: from the listener %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if host, err = os.Hostname(); err != nil || host == "" {
			return "", fmt.Errorf("SCIM_ADVERTISE_URL is not set and the host name is unknown (%v): set it", err)
		}
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// ownership is own as the bridge's Ownership: nil (a single replica) for
// none, not an interface holding a nil pointer.
func ownership(own *kafka.Owner) bridge.Ownership {
	if own == nil {
		return nil
	}
	return own
}

// replicasOf is the HTTP layer's view of several replicas: the bridge, when
// there is ownership.
func replicasOf(own *kafka.Owner, br *bridge.Bridge) scimhttp.Replicas {
	if own == nil {
		return nil
	}
	return br
}

// forwardTimeout bounds a write forwarded to its owner: the owner's own
// bound on a write (the append timeout and bridge.DeadlineMargin) and a
// margin for reading the body and answering.
func forwardTimeout(c config) time.Duration {
	return c.KafkaAppendTimeout + bridge.DeadlineMargin + 3*time.Second
}
