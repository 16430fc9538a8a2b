#!/usr/bin/env bash
# kafka.sh: a real single-node Apache Kafka broker (KRaft, combined
# broker+controller) on 127.0.0.1 for the Kafka log's tests.
#
#   scripts/kafka/kafka.sh start   fetch the jars (once), format fresh storage,
#                                  start the broker, wait until kafka-go gets
#                                  a Metadata answer, print KAFKA_TEST_BROKERS=...
#   scripts/kafka/kafka.sh stop    SIGTERM, wait, then SIGKILL
#   scripts/kafka/kafka.sh env     print KAFKA_TEST_BROKERS=127.0.0.1:PORT
#
# Typical use:
#   eval "$(scripts/kafka/kafka.sh start)"   # or: export $(scripts/kafka/kafka.sh env)
#   go test ./events/kafka/
#   scripts/kafka/kafka.sh stop
#
# Environment:
#   KAFKA_WORKDIR        pid, log, config and data (default: <repo>/.kafka)
#   KAFKA_JARS_DIR       jar cache (default: ~/.cache/scim-bridge/kafka-<pom hash>);
#                        filled with Maven from scripts/kafka/pom.xml on first use
#   KAFKA_READY_TIMEOUT  seconds to wait for the broker (default 90)
#   KAFKA_HEAP_OPTS      JVM heap (default -Xms256m -Xmx512m)
#   JAVA                 java binary (default: java on PATH); Kafka 4 needs Java 17+
#
# Only progress goes to stderr; stdout carries just the KAFKA_TEST_BROKERS line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
workdir="${KAFKA_WORKDIR:-$root/.kafka}"
pidfile="$workdir/kafka.pid"
logfile="$workdir/kafka.log"
envfile="$workdir/env"
java="${JAVA:-java}"
timeout="${KAFKA_READY_TIMEOUT:-90}"

say() { echo "kafka.sh: $*" >&2; }

# die prints the message loudly, with the broker log's tail when there is one.
die() {
	{
		echo
		echo "################################################################"
		echo "kafka.sh: FAILED: $*"
		if [[ -s "$logfile" ]]; then
			echo "---- last 60 lines of $logfile ----"
			tail -n 60 "$logfile"
			echo "---- end of $logfile ----"
		fi
		echo "################################################################"
	} >&2
	exit 1
}

running() {
	[[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# jars fetches the broker's jars into the cache once; a "complete" stamp
# makes later runs offline and fast. The cache key is the pom's hash, so a
# version bump in pom.xml fetches afresh.
jars() {
	local key dir
	key="$(sha256sum "$here/pom.xml" | cut -c1-12)"
	dir="${KAFKA_JARS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-bridge/kafka-$key}"
	if [[ ! -f "$dir/.complete" ]]; then
		command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
		say "fetching Kafka jars into $dir"
		rm -rf "$dir" && mkdir -p "$dir"
		if ! mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
			-DincludeScope=runtime -DoutputDirectory="$dir" >"$workdir/mvn.log" 2>&1; then
			cat "$workdir/mvn.log" >&2
			die "mvn dependency:copy-dependencies failed (output above)"
		fi
		touch "$dir/.complete"
	fi
	echo "$dir"
}

# helper builds the Go readiness helper (free ports, Metadata poll).
helper() {
	local bin="$workdir/kafkaready"
	(cd "$root" && go build -o "$bin" ./scripts/kafka/kafkaready) || die "go build kafkaready failed"
	echo "$bin"
}

cmd_start() {
	if running; then
		say "already running (pid $(cat "$pidfile"))"
		cat "$envfile"
		return
	fi
	command -v "$java" >/dev/null || die "java not found: Kafka 4 needs Java 17+"
	mkdir -p "$workdir"
	local cp ready port cport data cfg cluster
	cp="$(jars)"
	ready="$(helper)"
	{ read -r port; read -r cport; } < <("$ready" ports 2)
	data="$workdir/data"
	cfg="$workdir/server.properties"
	rm -rf "$data" "$logfile" "$envfile"
	mkdir -p "$data"

	cat >"$cfg" <<EOF
# Written by scripts/kafka/kafka.sh: one combined broker+controller node.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
# The replicas tests use session timeouts of a few seconds (the default floor is 6s).
group.min.session.timeout.ms=1000
log.flush.interval.messages=9223372036854775807
EOF

	# A KRaft cluster id is a base64url UUID (22 characters, no padding).
	# One that starts with "-" would be read as an option by the storage
	# tool's argument parser, so draw again until it does not.
	cluster=-
	while [[ "$cluster" == -* ]]; do
		cluster="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
	done
	say "formatting storage (cluster $cluster) in $data"
	"$java" -cp "$cp/*" kafka.tools.StorageTool format -t "$cluster" -c "$cfg" \
		>>"$logfile" 2>&1 || die "kafka.tools.StorageTool format failed"

	say "starting broker on 127.0.0.1:$port (controller $cport), log $logfile"
	# setsid: the broker outlives this script and ignores its terminal's signals.
	# shellcheck disable=SC2086
	setsid "$java" ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} -XX:+UseG1GC \
		-Djava.awt.headless=true -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
		-cp "$cp/*" kafka.Kafka "$cfg" </dev/null >>"$logfile" 2>&1 &
	echo $! >"$pidfile"

	if ! "$ready" wait -addr "127.0.0.1:$port" -timeout "${timeout}s" 2>>"$logfile"; then
		local why="broker did not answer Metadata on 127.0.0.1:$port within ${timeout}s"
		running || why="broker exited during startup"
		cmd_stop >/dev/null 2>&1 || true
		die "$why"
	fi
	echo "KAFKA_TEST_BROKERS=127.0.0.1:$port" >"$envfile"
	say "ready (pid $(cat "$pidfile"))"
	cat "$envfile"
}

cmd_stop() {
	if ! running; then
		say "not running"
		rm -f "$pidfile" "$envfile"
		return
	fi
	local pid i
	pid="$(cat "$pidfile")"
	say "stopping pid $pid"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do # 30 s for a clean controlled shutdown
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "pid $pid ignored SIGTERM for 30s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile" "$envfile"
}

cmd_env() {
	running && [[ -f "$envfile" ]] || die "no broker running: start it with scripts/kafka/kafka.sh start"
	cat "$envfile"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
env) cmd_env ;;
*)
	echo "usage: $0 start|stop|env" >&2
	exit 2
	;;
esac
