#!/usr/bin/env bash
# The whole test suite (`npm test`): system packages if missing, build, the real services, tap.
# KAFKA_BROKERS / CLICKHOUSE_URL point the tests at services of your own; otherwise this script
# starts a Kafka 4.1 broker (KRaft, from Maven Central jars cached in .cache/) and Debian's
# ClickHouse server on 127.0.0.1, and stops what it started when the run ends.
# Extra arguments go to tap (e.g. `npm test -- test/schemas/config.test.ts`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p .cache
export MAVEN_OPTS="${MAVEN_OPTS:-} -Dmaven.repo.local=$root/.cache/m2"

bash test/services/system-packages.sh
npm run build

stop_kafka=''
stop_clickhouse=''
cleanup() {
  local rc=$?
  if [ -n "$stop_clickhouse" ]; then test/services/clickhouse-server.sh stop >/dev/null 2>&1 || true; fi
  if [ -n "$stop_kafka" ]; then test/services/kafka.sh stop >/dev/null 2>&1 || true; fi
  exit "$rc"
}
trap cleanup EXIT

if [ -z "${KAFKA_BROKERS:-}" ]; then
  kport=${KAFKA_PORT:-19092}
  if ! (exec 3<>/dev/tcp/127.0.0.1/"$kport") 2>/dev/null; then
    stop_kafka=1
    test/services/kafka.sh start
  fi
  export KAFKA_BROKERS="127.0.0.1:$kport"
fi
if [ -z "${CLICKHOUSE_URL:-}" ]; then
  test/services/clickhouse-server.sh status >/dev/null 2>&1 || stop_clickhouse=1
  CLICKHOUSE_URL=$(test/services/clickhouse-server.sh start)
  export CLICKHOUSE_URL
fi
echo "KAFKA_BROKERS=$KAFKA_BROKERS CLICKHOUSE_URL=$(sed -E 's#//[^@/]*@#//***@#' <<<"$CLICKHOUSE_URL")"
npx tap "$@"
