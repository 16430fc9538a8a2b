package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/kafka"
	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// openStore opens the projection in the data directory. A projection
// another version wrote in a different key layout is deleted, so that Run
// replays the log into a new one, as `rebuild` would.
func openStore(c config, reg *schemas.Registry, logger *slog.Logger, promReg prometheus.Registerer) (*projection.Store, error) {
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	dir := filepath.Join(c.DataDir, "projection")
	opts := projection.Options{Logger: logger.With("component", "projection"), Registerer: promReg}
	st, err := projection.Open(dir, reg, opts)
	if errors.Is(err, projection.ErrFormat) {
		logger.Warn("deleting the projection to replay the log into the current format", "err", err.Error())
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("delete the projection: %w", err)
		}
		st, err = projection.Open(dir, reg, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("open the projection in %s: %w", c.DataDir, err)
	}
	return st, nil
}

// connectLog opens the configured log. Kafka is retried, with backoff,
// for as long as it is unreachable (until ctx ends), so that the service
// can start — serving reads, answering writes with 503, not ready — while
// Kafka is down. Errors that a retry cannot fix (a compacted topic, bad
// settings) end it at once.
func connectLog(ctx context.Context, c config, logger *slog.Logger, promReg prometheus.Registerer) (events.Log, error) {
	if c.KafkaBrokers == "" {
		l, err := events.OpenEmbedded(filepath.Join(c.DataDir, "log"), events.EmbeddedOptions{Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("open the embedded log: %w", err)
		}
		return l, nil
	}
	opts, err := kafkaOptions(c, logger, promReg)
	if err != nil {
		return nil, err
	}
	backoff := 500 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		l, err := kafka.Open(actx, opts)
		cancel()
		if err == nil {
			return l, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, events.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("open the Kafka log: %w", err)
		}
		logger.Warn("kafka is unreachable; retrying", "component", "kafka", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func logKind(c config) string {
	if c.KafkaBrokers == "" {
		return "embedded"
	}
	return "kafka"
}

// kafkaOptions turns the configuration into the Kafka log's options.
func kafkaOptions(c config, logger *slog.Logger, reg prometheus.Registerer) (kafka.Options, error) {
	o := kafka.Options{
		Topic:             c.KafkaTopic,
		Partitions:        c.KafkaPartitions,
		ReplicationFactor: c.KafkaReplication,
		Retention:         c.KafkaRetention,
		AppendTimeout:     c.KafkaAppendTimeout,
		SASL: kafka.SASL{
			Mechanism: strings.ToLower(c.KafkaSASLMechanism),
			Username:  c.KafkaSASLUser,
			Password:  c.KafkaSASLPassword,
		},
		Logger:     logger,
		Registerer: reg,
	}
	for _, b := range strings.Split(c.KafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			o.Brokers = append(o.Brokers, b)
		}
	}
	if c.KafkaTLS || c.KafkaTLSCA != "" || c.KafkaTLSCert != "" {
		t := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.KafkaTLSCA != "" {
			pem, err := os.ReadFile(c.KafkaTLSCA)
			if err != nil {
				return o, fmt.Errorf("KAFKA_TLS_CA_FILE: %w", err)
			}
			t.RootCAs = x509.NewCertPool()
			if !t.RootCAs.AppendCertsFromPEM(pem) {
				return o, fmt.Errorf("KAFKA_TLS_CA_FILE %s: no PEM certificate in it", c.KafkaTLSCA)
			}
		}
		if c.KafkaTLSCert != "" || c.KafkaTLSKey != "" {
			cert, err := tls.LoadX509KeyPair(c.KafkaTLSCert, c.KafkaTLSKey)
			if err != nil {
				return o, fmt.Errorf("KAFKA_TLS_CERT_FILE/KAFKA_TLS_KEY_FILE: %w", err)
			}
			t.Certificates = []tls.Certificate{cert}
		}
		o.TLS = t
	}
	return o, nil
}
