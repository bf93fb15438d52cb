#!/usr/bin/env bash
# Starts or stops an Apicurio Registry 2.0.2.Final on 127.0.0.1, in-memory storage, no auth: a real
# Confluent-compatible Schema Registry API at http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v6
# (the path of the compatibility API in 2.0.x; v7 came with 3.x).
#   test/services/registry.sh start   # build once from Maven Central (cached in .cache/registry), start, wait
#   test/services/registry.sh stop    # schemas are in memory: a stop forgets them
#   test/services/registry.sh url     # prints the compatibility API URL
# Environment: REGISTRY_PORT (default 18081), REGISTRY_DIR (default .cache/registry), REGISTRY_HEAP (default 512m).
# Why a build step and this version: see test/services/registry-pom.xml.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
port=${REGISTRY_PORT:-18081}
dir=${REGISTRY_DIR:-$root/.cache/registry}
build=$dir/build
run=$dir/run-$port
jar=$build/target/registry-runtime-2.0.2.Final-runner.jar

resolve() {
  local stamp
  stamp=$(cat "$root/test/services/registry-pom.xml" "$root/test/services/registry-application.properties" | sha256sum | cut -c1-16)
  if [ -f "$jar" ] && [ "$(cat "$build/.stamp" 2>/dev/null)" = "$stamp" ]; then return; fi
  echo "registry.sh: building Apicurio Registry from Maven Central into $build (first time: 2-4 minutes)" >&2
  rm -rf "$build"
  mkdir -p "$build/src/main/resources"
  cp "$root/test/services/registry-pom.xml" "$build/pom.xml"
  cp "$root/test/services/registry-application.properties" "$build/src/main/resources/application.properties"
  # The parent POM's own checks (checkstyle, enforcer, license) expect Apicurio's source tree.
  (cd "$build" && mvn -q -B -DskipTests -Denforcer.skip -Dcheckstyle.skip -Dlicense.skip -Dmaven.source.skip package >&2)
  echo "$stamp" > "$build/.stamp"
}

start() {
  resolve
  if [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null; then
    echo "registry.sh: already running on 127.0.0.1:$port" >&2; return
  fi
  mkdir -p "$run/config"
  # Runtime settings: the app's own application.properties (Quarkus ignores it inside a dependency
  # jar, but reads config/application.properties in the working directory), then ours, which win.
  unzip -p "$build/target/lib/io.apicurio.apicurio-registry-app-2.0.2.Final.jar" application.properties > "$run/config/application.properties"
  cat "$root/test/services/registry-application.properties" >> "$run/config/application.properties"
  cd "$run"
  nohup java -Xmx"${REGISTRY_HEAP:-512m}" -Dquarkus.profile=prod -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
    -jar "$jar" > "$run/stdout" 2>&1 &
  echo $! > "$run/pid"
  for _ in $(seq 1 180); do
    if curl -fs -m 2 -o /dev/null "http://127.0.0.1:$port/health/ready" 2>/dev/null; then
      echo "registry.sh: Apicurio Registry ready at $(url) (pid $(cat "$run/pid"))" >&2; return
    fi
    if ! kill -0 "$(cat "$run/pid")" 2>/dev/null; then
      echo "registry.sh: registry exited; see $run/stdout" >&2; tail -20 "$run/stdout" >&2; exit 1
    fi
    sleep 0.5
  done
  echo "registry.sh: registry not ready within 90 s; see $run/stdout" >&2; exit 1
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

url() {
  echo "http://127.0.0.1:$port/apis/ccompat/v6"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  url) url ;;
  *) echo "usage: $0 start|stop|restart|url" >&2; exit 2 ;;
esac
