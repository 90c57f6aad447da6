#!/usr/bin/env bash
# Storeline's warehouse sink, without Docker: one Apache Kafka Connect worker (distributed mode, a group
# of one) from Maven Central artifacts, running Debezium's JDBC sink connector with the connector configs
# in connect/config/*.json: canonical events and subscription states into PostgreSQL tables
# warehouse.subscription_events and warehouse.subscription_state. docs/warehouse.md has the details.
#
#   sink.sh up      the local stack (scripts/stack/stack.sh up), the worker's artifacts (Maven, cached;
#                   rebuilt only when connect/ or the Kafka version changes), the target database and its
#                   `warehouse` schema, the worker (waits until its REST API reports healthy and the
#                   plugins are loaded), then validates every connector config with the worker
#                   (failing on any error, applying nothing) and creates or updates the connectors, and
#                   waits until they and their tasks run. Prints CONNECT_URL=… and
#                   WAREHOUSE_DATABASE_URL=… on stdout; progress goes to stderr.
#   sink.sh down    stops the worker (connectors stay configured in its Kafka topics; data is kept)
#   sink.sh status  the worker, its plugins, every connector and task (a failed one with the first line of
#                   its error); non-zero exit when the worker is down or something is not RUNNING
#   sink.sh apply   validate and apply the connector configs on a running worker (after editing them)
#   sink.sh remove  delete the connectors the configs name (with the current settings)
#   sink.sh build   rebuild the worker's artifacts now, with the transform's unit tests (worker stopped)
#   sink.sh unit-test  the transform's unit tests only (JUnit, built apart from the worker's jars)
#   sink.sh env     print the lines of `up` without starting anything
#
# Settings (environment), besides the stack's (STORELINE_STACK_DIR, STORELINE_REGISTRY_PORT,
# STORELINE_PG_HOST/PORT/USER/PASSWORD, STORELINE_DB, JAVA_HOME, MAVEN_REPO):
#   STORELINE_CONNECT_PORT (8083)           the worker's REST port, on 127.0.0.1
#   STORELINE_CONNECT_GROUP (storeline-connect)  worker group; internal topics <group>-configs/-offsets/-status
#   STORELINE_WAREHOUSE_DB (STORELINE_DB, else storeline)  target database; tables in its `warehouse` schema
#   STORELINE_SINK_TOPIC_PREFIX (TOPIC_PREFIX, else none)  prefix of the topics the connectors read
#   STORELINE_SINK_CONNECTOR_SUFFIX (none)  appended to connector names (a second set beside the first)
#   STORELINE_SINK_CONNECTORS (connect/config)  directory of the connector configs (*.json)
#   STORELINE_SINK_DIR (.stack/sink)        worker classpath, plugins, config and pid file
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK=${STORELINE_STACK_DIR:-$ROOT/.stack}
SINK=${STORELINE_SINK_DIR:-$STACK/sink}
LOGS=$STACK/logs
RUN=$SINK/run
CONNECT_PORT=${STORELINE_CONNECT_PORT:-8083}
CONNECT_URL=http://127.0.0.1:$CONNECT_PORT
GROUP=${STORELINE_CONNECT_GROUP:-storeline-connect}
REGISTRY_PORT=${STORELINE_REGISTRY_PORT:-8081}
PG_HOST=${STORELINE_PG_HOST:-127.0.0.1}
PG_PORT=${STORELINE_PG_PORT:-5432}
PG_USER=${STORELINE_PG_USER:-postgres}
WAREHOUSE_DB=${STORELINE_WAREHOUSE_DB:-${STORELINE_DB:-storeline}}
CONNECTORS=${STORELINE_SINK_CONNECTORS:-$ROOT/connect/config}
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/scripts/stack/pom.xml")
MAVEN_REPO=${MAVEN_REPO:-$HOME/.m2/repository}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
HELPER=$ROOT/scripts/sink/connect.js

# What the connector configs' ${VAR}s are filled with (scripts/sink/connect.js).
export SINK_TOPIC_PREFIX=${STORELINE_SINK_TOPIC_PREFIX-${TOPIC_PREFIX:-}}
export SINK_CONNECTOR_SUFFIX=${STORELINE_SINK_CONNECTOR_SUFFIX:-}
export SINK_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/registry/v2
export SINK_JDBC_URL=jdbc:postgresql://$PG_HOST:$PG_PORT/$WAREHOUSE_DB
export SINK_JDBC_USER=$PG_USER
# Debezium's sink insists on a password; with the stack's trust authentication the server never asks for it.
export SINK_JDBC_PASSWORD=${STORELINE_PG_PASSWORD:-unused-with-trust-auth}
export SINK_DLQ_REPLICATION_FACTOR=1 # set from the stack by ensure_stack

# The plugin classes the configs use; `up` fails early when the worker did not load one.
# shellcheck disable=SC2016 # a literal $ in a class name
PLUGINS=(
  io.debezium.connector.jdbc.JdbcSinkConnector
  io.apicurio.registry.utils.converter.AvroConverter
  'dev.storeline.connect.transforms.WarehouseColumns$Value'
)

log() { printf '[sink] %s\n' "$*" >&2; }
fail() {
  local part=$1 logfile=${2:-}
  log "FAILED: $part"
  if [ -n "$logfile" ] && [ -f "$logfile" ]; then
    log "last lines of $logfile:"
    tail -n 40 "$logfile" >&2
  fi
  exit 1
}

proc_running() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }
worker_alive() { [ -f "$RUN/connect.pid" ] && proc_running "$(cat "$RUN/connect.pid")"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
worker_ready() { node "$HELPER" "$CONNECT_URL" ready 2>/dev/null; }
psql_q() { PGPASSWORD=${STORELINE_PG_PASSWORD:-} psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -v ON_ERROR_STOP=1 -qtA "$@"; }
connector_files() {
  local files=("$CONNECTORS"/*.json)
  [ -f "${files[0]}" ] || fail "no connector configs (*.json) in $CONNECTORS"
  printf '%s\n' "${files[@]}"
}

print_env() {
  echo "CONNECT_URL=$CONNECT_URL"
  echo "WAREHOUSE_DATABASE_URL=postgres://$PG_USER@$PG_HOST:$PG_PORT/$WAREHOUSE_DB"
}

# ---------------------------------------------------------------- the stack
# KAFKA_BROKERS of the running stack (started when it is not up); one replica per broker for the DLQ.
ensure_stack() {
  local env
  env=$(bash "$ROOT/scripts/stack/stack.sh" up) || fail "the local stack (scripts/stack/stack.sh up)"
  KAFKA_BROKERS=$(sed -n 's/^KAFKA_BROKERS=//p' <<<"$env")
  [ -n "$KAFKA_BROKERS" ] || fail "stack.sh up printed no KAFKA_BROKERS"
  local n
  n=$(tr ',' '\n' <<<"$KAFKA_BROKERS" | grep -c .)
  export SINK_DLQ_REPLICATION_FACTOR=$((n < 3 ? n : 3))
}

# ---------------------------------------------------------------- artifacts
# Everything that decides the build: the Kafka version, the POMs and the transform's sources.
build_stamp() {
  {
    echo "kafka=$KAFKA_VERSION"
    (cd "$ROOT/connect" && find . -type f \( -name pom.xml -o -path '*/src/*' \) | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -c1-16
}

build_artifacts() {
  local goal=${1:-package} skip=${2--DskipTests}
  command -v mvn >/dev/null 2>&1 || fail "no mvn on PATH (Maven fetches Kafka Connect and the plugins from Maven Central)"
  log "resolving Kafka Connect $KAFKA_VERSION, Debezium's JDBC sink and Apicurio's converter from Maven Central; building the warehouse transform (cached in $MAVEN_REPO)"
  mkdir -p "$SINK"
  rm -rf "${SINK:?}/lib" "${SINK:?}/plugins" "${SINK:?}/.built"
  # shellcheck disable=SC2086 # $skip is one flag or none
  mvn -q -B -f "$ROOT/connect/pom.xml" -Dmaven.repo.local="$MAVEN_REPO" -Dsink.dir="$SINK" \
    -Dkafka.version="$KAFKA_VERSION" $skip "$goal" >"$SINK/mvn.log" 2>&1 ||
    fail "Maven build of the sink's worker and plugins" "$SINK/mvn.log"
  build_stamp >"$SINK/.built"
}

ensure_artifacts() {
  if [ ! -f "$SINK/.built" ] || [ "$(cat "$SINK/.built")" != "$(build_stamp)" ]; then
    build_artifacts
  fi
}

# ---------------------------------------------------------------- database
ensure_database() {
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || fail "PostgreSQL on $PG_HOST:$PG_PORT does not answer"
  if [ "$(psql_q -d postgres -c "select 1 from pg_database where datname='$WAREHOUSE_DB'")" != 1 ]; then
    log "creating database $WAREHOUSE_DB"
    psql_q -d postgres -c "create database \"$WAREHOUSE_DB\"" >/dev/null || fail "create database $WAREHOUSE_DB"
  fi
  psql_q -d "$WAREHOUSE_DB" -c 'set client_min_messages = warning; create schema if not exists warehouse' >/dev/null ||
    fail "create schema warehouse in $WAREHOUSE_DB"
}

# ---------------------------------------------------------------- worker
start_worker() {
  command -v "$JAVA" >/dev/null 2>&1 || fail "no java on PATH (Java 17+ is needed)"
  port_busy "$CONNECT_PORT" && fail "port $CONNECT_PORT is taken by something that is not a healthy Connect worker (STORELINE_CONNECT_PORT)"
  mkdir -p "$RUN" "$LOGS"
  log "starting Kafka Connect $KAFKA_VERSION worker (group $GROUP) on $CONNECT_URL"
  # The same launcher as the container (connect/run-worker.sh). setsid: Ctrl-C in the terminal that ran
  # it must not kill the worker.
  CONNECT_BOOTSTRAP_SERVERS=$KAFKA_BROKERS CONNECT_HOME=$SINK CONNECT_GROUP_ID=$GROUP \
    CONNECT_REST_HOST=127.0.0.1 CONNECT_REST_PORT=$CONNECT_PORT CONNECT_ADVERTISED_HOST=127.0.0.1 \
    CONNECT_CONF_DIR=$RUN CONNECT_LOG_FILE=$LOGS/connect.log \
    setsid nohup bash "$ROOT/connect/run-worker.sh" >"$LOGS/connect.out" 2>&1 </dev/null &
  echo $! >"$RUN/connect.pid"
}

wait_worker() {
  for _ in $(seq 1 180); do
    if worker_ready; then return 0; fi
    worker_alive || fail "the Connect worker exited during start-up" "$LOGS/connect.log"
    sleep 1
  done
  fail "the Connect worker did not report healthy after 180s" "$LOGS/connect.log"
}

stop_worker() {
  if ! worker_alive; then
    rm -f "$RUN/connect.pid"
    log "worker not running"
    return 0
  fi
  local pid
  pid=$(cat "$RUN/connect.pid")
  log "stopping the Connect worker (pid $pid, SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do proc_running "$pid" || break; sleep 0.2; done
  if proc_running "$pid"; then
    log "pid $pid did not stop in 60s; killing"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do proc_running "$pid" || break; sleep 0.2; done
  fi
  rm -f "$RUN/connect.pid"
}

apply_connectors() {
  local files
  mapfile -t files < <(connector_files)
  log "validating and applying ${#files[@]} connector config(s) from $CONNECTORS (topic prefix '${SINK_TOPIC_PREFIX}', database $WAREHOUSE_DB)"
  if ! SINK_LOG_FILE=$LOGS/connect.log node "$HELPER" "$CONNECT_URL" apply "${files[@]}"; then
    fail "connector configs (see above and sink.sh status)"
  fi
}

cmd=${1:-up}
case "$cmd" in
  up)
    command -v node >/dev/null 2>&1 || fail "no node on PATH"
    ensure_stack
    ensure_database
    if worker_ready; then
      log "worker already up on $CONNECT_URL"
    else
      ensure_artifacts
      start_worker
      wait_worker
    fi
    node "$HELPER" "$CONNECT_URL" plugins "${PLUGINS[@]}" >/dev/null || fail "plugins (plugin.path $SINK/plugins)" "$LOGS/connect.log"
    apply_connectors
    log "up: Connect worker $CONNECT_URL, warehouse tables in $WAREHOUSE_DB (schema warehouse)"
    print_env
    ;;
  down) stop_worker ;;
  status)
    rc=0
    if worker_ready; then
      pid=$( (worker_alive && cat "$RUN/connect.pid") || echo "not started by this script")
      version=$(node "$HELPER" "$CONNECT_URL" info 2>/dev/null || true)
      echo "worker: up ($CONNECT_URL, pid $pid, $version, group $GROUP)"
      node "$HELPER" "$CONNECT_URL" plugins "${PLUGINS[@]}" | sed 's/^/plugin: /' || rc=1
      SINK_LOG_FILE=$LOGS/connect.log node "$HELPER" "$CONNECT_URL" status || rc=1
    else
      if worker_alive; then echo "worker: starting or unhealthy (pid $(cat "$RUN/connect.pid"), $CONNECT_URL; log $LOGS/connect.log)"; else echo "worker: down ($CONNECT_URL)"; fi
      rc=1
    fi
    exit $rc
    ;;
  apply)
    worker_ready || fail "no healthy Connect worker on $CONNECT_URL (sink.sh up)"
    ensure_stack
    ensure_database
    apply_connectors
    ;;
  remove)
    worker_ready || fail "no healthy Connect worker on $CONNECT_URL"
    mapfile -t files < <(connector_files)
    node "$HELPER" "$CONNECT_URL" remove "${files[@]}"
    ;;
  build)
    worker_alive && fail "the worker runs from $SINK; stop it first (sink.sh down)"
    build_artifacts package ""
    log "built into $SINK (lib/connect, plugins/)"
    ;;
  unit-test)
    # The transform's JUnit tests, built apart from the running worker's jars.
    command -v mvn >/dev/null 2>&1 || fail "no mvn on PATH"
    mkdir -p "$SINK/unit-test"
    mvn -q -B -f "$ROOT/connect/pom.xml" -pl warehouse-transforms -Dmaven.repo.local="$MAVEN_REPO" \
      -Dsink.dir="$SINK/unit-test" -Dkafka.version="$KAFKA_VERSION" test >"$SINK/unit-test/mvn.log" 2>&1 ||
      fail "unit tests of connect/warehouse-transforms" "$SINK/unit-test/mvn.log"
    grep -h 'Tests run:' "$SINK"/unit-test/build/*/surefire-reports/*.txt >&2 || true
    ;;
  env) print_env ;;
  *)
    echo "usage: sink.sh up|down|status|apply|remove|build|unit-test|env" >&2
    exit 2
    ;;
esac
