#!/usr/bin/env bash
# Starts or stops a single-node Apache Kafka 4.x broker in KRaft mode on 127.0.0.1.
#   test/services/kafka.sh start   # resolve jars once (cached in .cache/kafka/lib), format, start, wait
#   test/services/kafka.sh stop            # keeps the log; restart resumes it
#   test/services/kafka.sh reset           # stop and wipe
#   test/services/kafka.sh topics NAME PARTITIONS   # create a topic if it is missing
# Environment: KAFKA_PORT (default 19092), KAFKA_DIR (default .cache/kafka), KAFKA_HEAP (default 1g).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
port=${KAFKA_PORT:-19092}
cport=$((port + 1))
dir=${KAFKA_DIR:-$root/.cache/kafka}
lib=$root/.cache/kafka/lib
run=$dir/run-$port

resolve() {
  if [ -f "$lib/.complete" ]; then return; fi
  mkdir -p "$lib"
  echo "kafka.sh: resolving Kafka jars from Maven Central into $lib" >&2
  mvn -q -f "$root/test/services/kafka-pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$lib" -DincludeScope=runtime >&2
  touch "$lib/.complete"
}

java_cmd() {
  java -Xmx"${KAFKA_HEAP:-1g}" -Xms256m -XX:+UseG1GC \
    -Dlog4j2.configurationFile="$root/test/services/kafka-log4j2.yaml" \
    -Dkafka.logs.dir="$run/logs" -cp "$lib/*" "$@"
}

start() {
  resolve
  if [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null; then
    echo "kafka.sh: already running on 127.0.0.1:$port" >&2; return
  fi
  # Data survives stop/start (a broker restart test needs its log); `reset` wipes it.
  mkdir -p "$run/data" "$run/logs"
  cat > "$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$run/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
message.max.bytes=10485760
log.retention.hours=-1
PROPS
  [ -f "$run/data/meta.properties" ] || java_cmd kafka.tools.StorageTool format --standalone -t "$(java_cmd kafka.tools.StorageTool random-uuid)" \
    -c "$run/server.properties" > "$run/logs/format.out"
  nohup bash -c "exec java -Xmx${KAFKA_HEAP:-1g} -Xms256m -XX:+UseG1GC \
    -Dlog4j2.configurationFile='$root/test/services/kafka-log4j2.yaml' \
    -Dkafka.logs.dir='$run/logs' -cp '$lib/*' kafka.Kafka '$run/server.properties'" \
    > "$run/logs/stdout" 2>&1 &
  echo $! > "$run/pid"
  for _ in $(seq 1 120); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
      echo "kafka.sh: broker listening on 127.0.0.1:$port (pid $(cat "$run/pid"))" >&2; return
    fi
    if ! kill -0 "$(cat "$run/pid")" 2>/dev/null; then
      echo "kafka.sh: broker exited; see $run/logs" >&2; tail -20 "$run/logs/stdout" >&2; exit 1
    fi
    sleep 0.5
  done
  echo "kafka.sh: broker did not listen within 60 s" >&2; exit 1
}

stop() {
  if [ -f "$run/pid" ]; then
    pid=$(cat "$run/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$run/pid"
  fi
}

topics() {
  java_cmd org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" \
    --create --if-not-exists --topic "$1" --partitions "$2" --replication-factor 1 >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  reset) stop; rm -rf "$run" ;;
  topics) topics "$2" "$3" ;;
  *) echo "usage: $0 start|stop|restart|reset|topics NAME PARTITIONS" >&2; exit 2 ;;
esac
