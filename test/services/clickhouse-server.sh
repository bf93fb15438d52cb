#!/usr/bin/env bash
# Starts or stops Debian's clickhouse-server (18.16) on 127.0.0.1 with its own config, data and
# ports under .cache/clickhouse-server/, for the tests that need a real server process (HTTP
# transport, outage). The system service and /etc/clickhouse-server are never touched.
#   test/services/clickhouse-server.sh start     # write config, start, wait until /ping answers
#   test/services/clickhouse-server.sh stop      # keeps the data; start resumes it
#   test/services/clickhouse-server.sh restart
#   test/services/clickhouse-server.sh status    # exit 0 when /ping answers
#   test/services/clickhouse-server.sh reset     # stop and wipe the data
# Environment: CH_HTTP_PORT (default 18123), CH_TCP_PORT (default CH_HTTP_PORT + 1),
#   CH_DIR (default .cache/clickhouse-server), CH_USER / CH_PASSWORD (the account the tests use,
#   default pevmeter / pevmeter-test: a throwaway loopback server, not a secret).
# The URL for CLICKHOUSE_URL is printed on stdout by start: http://USER:PASSWORD@127.0.0.1:PORT
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
port=${CH_HTTP_PORT:-18123}
tport=${CH_TCP_PORT:-$((port + 1))}
dir=${CH_DIR:-$root/.cache/clickhouse-server}
run=$dir/run-$port
user=${CH_USER:-pevmeter}
password=${CH_PASSWORD:-pevmeter-test}
bin=${CH_SERVER_BIN:-/usr/sbin/clickhouse-server}

ping() {
  # /ping answers "Ok." once the server accepts queries.
  local r
  r=$( (exec 3<>/dev/tcp/127.0.0.1/"$port" && printf 'GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && timeout 5 cat <&3) 2>/dev/null) || return 1
  [[ $r == *"Ok."* ]]
}

pid_alive() { [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null; }

write_config() {
  mkdir -p "$run/data/tmp" "$run/data/user_files" "$run/data/format_schemas" "$run/logs"
  # 18.16 reads <yandex> configs. Small caches: this server holds test data only.
  cat > "$run/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>$run/logs/clickhouse-server.log</log>
        <errorlog>$run/logs/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$port</http_port>
    <tcp_port>$tport</tcp_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>64</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$run/data/</path>
    <tmp_path>$run/data/tmp/</tmp_path>
    <user_files_path>$run/data/user_files/</user_files_path>
    <format_schema_path>$run/data/format_schemas/</format_schema_path>
    <users_config>$run/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <umask>022</umask>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <!-- The fault runs stop merges on interval_raw to count redelivered rows (docs/faults.md);
         their many small inserts must not meet the 300-part limit meant for a merging table. -->
    <merge_tree>
        <parts_to_delay_insert>50000</parts_to_delay_insert>
        <parts_to_throw_insert>50000</parts_to_throw_insert>
    </merge_tree>
</yandex>
XML
  cat > "$run/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks replace="replace"><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <$user>
            <password>$password</password>
            <networks replace="replace"><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </$user>
        <reader>
            <password>$password</password>
            <networks replace="replace"><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>readonly</profile>
            <quota>default</quota>
        </reader>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
                <read_rows>0</read_rows><execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

start() {
  mkdir -p "$dir"
  # Two test files may ask for the shared server at once: one starts it, the other finds it up.
  exec 9>"$dir/.lock-$port"
  flock 9
  if [ ! -x "$bin" ]; then
    echo "clickhouse-server.sh: $bin not found; install Debian's clickhouse-server (apt-get install clickhouse-server)" >&2
    exit 1
  fi
  if pid_alive && ping; then
    echo "clickhouse-server.sh: already running on 127.0.0.1:$port (pid $(cat "$run/pid"))" >&2
  else
    if pid_alive; then stop; fi
    write_config
    # Runs as the invoking user (root in CI): the data folder is ours, so no privilege change is needed.
    nohup "$bin" --config-file="$run/config.xml" --pid-file="$run/server.pid" \
      > "$run/logs/stdout" 2>&1 9>&- &
    echo $! > "$run/pid"
    local ok=''
    for _ in $(seq 1 120); do
      if ping; then ok=1; break; fi
      if ! pid_alive; then
        echo "clickhouse-server.sh: server exited; see $run/logs" >&2
        tail -20 "$run/logs/stdout" "$run/logs/clickhouse-server.err.log" >&2 2>/dev/null || true
        exit 1
      fi
      sleep 0.25
    done
    if [ -z "$ok" ]; then echo "clickhouse-server.sh: /ping did not answer within 30 s" >&2; exit 1; fi
    echo "clickhouse-server.sh: listening on 127.0.0.1:$port (HTTP), $tport (TCP), pid $(cat "$run/pid")" >&2
  fi
  echo "http://$user:$password@127.0.0.1:$port"
}

stop() {
  if [ -f "$run/pid" ]; then
    local pid
    pid=$(cat "$run/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$run/pid" "$run/server.pid"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if pid_alive && ping; then echo "running on 127.0.0.1:$port (pid $(cat "$run/pid"))"; else echo "not running"; exit 1; fi ;;
  reset) stop; rm -rf "$run" ;;
  *) echo "usage: $0 start|stop|restart|status|reset" >&2; exit 2 ;;
esac
