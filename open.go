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
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("SCIM_DATA_DIR=%s: %w", c.DataDir, err)
	}
	dir := filepath.Join(c.DataDir, "projection")
	opts := projection.Options{Logger: logger.With("component", "projection"), Registerer: promReg,
		ReplayMemory: c.ReplayMemory, UserNameHintBytes: c.UserNameHints}
	if c.UserNameHints == 0 {
		opts.UserNameHintBytes = -1 // off
	}
	st, err := projection.Open(dir, reg, opts)
	if errors.Is(err, projection.ErrFormat) {
		logger.Warn("deleting the projection to replay the log into the current format", "err", err.Error())
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("delete the projection: %w", err)
		}
		st, err = projection.Open(dir, reg, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("SCIM_DATA_DIR=%s: open the projection: %w", c.DataDir, err)
	}
	return st, nil
}

// openLog opens the configured log. The embedded log is ready when this
// returns. The Kafka log returns at once and connects in the background
// (kafka.Open): until it has, its Append and End fail with
// events.ErrUnavailable; awaitLog waits for it.
func openLog(c config, logger *slog.Logger, promReg prometheus.Registerer) (events.Log, error) {
	if c.KafkaBrokers == "" {
		l, err := events.OpenEmbedded(filepath.Join(c.DataDir, "log"), events.EmbeddedOptions{Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("SCIM_DATA_DIR=%s: open the embedded log: %w", c.DataDir, err)
		}
		return l, nil
	}
	opts, err := kafkaOptions(c, logger, promReg)
	if err != nil {
		return nil, err
	}
	l, err := kafka.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open the Kafka log: %w", err)
	}
	return l, nil
}

// awaitLog returns once l is connected: at once for the embedded log; for
// Kafka when it has connected, or with the error that made it give up (one
// no retry fixes), or ctx.Err(). While it waits, the Kafka log logs every
// failed attempt.
func awaitLog(ctx context.Context, l events.Log) error {
	k, ok := l.(interface{ WaitConnected(context.Context) error })
	if !ok {
		return nil
	}
	if err := k.WaitConnected(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("connect to Kafka: %w", err)
	}
	return nil
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
