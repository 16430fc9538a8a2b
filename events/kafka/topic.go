package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scim-bridge/scim-bridge/events"
)

// ErrCompacted is returned (wrapped) by Open when the topic's cleanup.policy
// includes compact: compaction keeps only the last record per key and
// would silently drop events a rebuild needs.
var ErrCompacted = errors.New("event topic is compacted")

// retentionMs is the retention.ms of Options.Retention.
func (o *Options) retentionMs() string {
	if o.Retention <= 0 {
		return "-1"
	}
	return strconv.FormatInt(o.Retention.Milliseconds(), 10)
}

// ensureTopic creates the topic if missing, checks its configuration and
// waits until every partition has a leader. It returns the partition count.
func (l *Log) ensureTopic(ctx context.Context) (int, error) {
	n, err := l.partitionCount(ctx)
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		if err := l.createTopic(ctx); err != nil {
			return 0, err
		}
		n, err = l.partitionCount(ctx)
	}
	if err != nil {
		return 0, err
	}
	if err := l.checkConfig(ctx, n); err != nil {
		return 0, err
	}
	return n, l.awaitLeaders(ctx, n)
}

func (l *Log) partitionCount(ctx context.Context) (int, error) {
	md, err := l.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{l.opts.Topic}})
	if err != nil {
		return 0, fmt.Errorf("%w: metadata: %w", events.ErrUnavailable, err)
	}
	for _, t := range md.Topics {
		if t.Name != l.opts.Topic {
			continue
		}
		if t.Error != nil {
			return 0, fmt.Errorf("metadata: %w", t.Error)
		}
		if len(t.Partitions) == 0 {
			return 0, fmt.Errorf("metadata: %w", kafka.UnknownTopicOrPartition)
		}
		return len(t.Partitions), nil
	}
	return 0, fmt.Errorf("metadata: %w", kafka.UnknownTopicOrPartition)
}

func (l *Log) createTopic(ctx context.Context) error {
	res, err := l.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic:             l.opts.Topic,
		NumPartitions:     l.opts.Partitions,
		ReplicationFactor: l.opts.ReplicationFactor,
		ConfigEntries: []kafka.ConfigEntry{
			{ConfigName: "cleanup.policy", ConfigValue: "delete"},
			{ConfigName: "retention.ms", ConfigValue: l.opts.retentionMs()},
		},
	}}})
	if err != nil {
		return fmt.Errorf("%w: create topic: %w", events.ErrUnavailable, err)
	}
	// Another replica may have created it first: that is fine.
	if err := res.Errors[l.opts.Topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic: %w", err)
	}
	l.logger.Info("created topic", "partitions", l.opts.Partitions,
		"replication_factor", l.opts.ReplicationFactor, "retention_ms", l.opts.retentionMs())
	return nil
}

// checkConfig refuses a compacted topic and warns about other differences
// from Options, which an existing topic keeps.
func (l *Log) checkConfig(ctx context.Context, n int) error {
	if n != l.opts.Partitions {
		l.logger.Warn("topic partition count differs from the configured one; using the topic's, which tenants are hashed over",
			"partitions", n, "configured_partitions", l.opts.Partitions)
	}
	res, err := l.client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic,
			ResourceName: l.opts.Topic,
			ConfigNames:  []string{"cleanup.policy", "retention.ms"},
		}},
	})
	if err != nil {
		return fmt.Errorf("%w: describe topic config: %w", events.ErrUnavailable, err)
	}
	for _, r := range res.Resources {
		if r.Error != nil {
			return fmt.Errorf("describe topic config: %w", r.Error)
		}
		for _, e := range r.ConfigEntries {
			switch e.ConfigName {
			case "cleanup.policy":
				if strings.Contains(e.ConfigValue, "compact") {
					return fmt.Errorf("%w: cleanup.policy=%s; the event topic must use cleanup.policy=delete with retention.ms=-1",
						ErrCompacted, e.ConfigValue)
				}
			case "retention.ms":
				if e.ConfigValue != l.opts.retentionMs() {
					l.logger.Warn("topic retention differs from the configured one",
						"retention_ms", e.ConfigValue, "configured_retention_ms", l.opts.retentionMs())
				}
			}
		}
	}
	return nil
}

// awaitLeaders polls ListOffsets until every partition answers: right after
// creation, partitions have no leader for a moment.
func (l *Log) awaitLeaders(ctx context.Context, n int) error {
	for {
		_, err := l.endOffsets(ctx, n)
		if err == nil {
			return nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("await partition leaders: %w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
