#!/usr/bin/env bash
# Storeline's embedded local stack, without Docker: a single-node Apache Kafka (KRaft, broker+controller)
# and Apicurio Registry (Confluent-compatible API at /apis/ccompat/v7) as local Java processes from
# Maven Central artifacts, plus PostgreSQL. The same script serves `npm start`, the tests and CI.
#
#   stack.sh up      start what is not running, wait for real readiness, print KAFKA_BROKERS=…,
#                    SCHEMA_REGISTRY_URL=…, DATABASE_URL=… on stdout (progress goes to stderr),
#                    so `eval "$(bash scripts/stack/stack.sh up)"` works
#   stack.sh down    stop Kafka and the registry (data is kept under .stack/)
#   stack.sh status  one line per part
#   stack.sh purge   down, then delete .stack/data (topics, offsets)
#
# Settings (environment): STORELINE_KAFKA_PORT (9092), STORELINE_CONTROLLER_PORT (9093),
# STORELINE_REGISTRY_PORT (8081), STORELINE_PG_HOST/PORT/USER (127.0.0.1/5432/postgres),
# STORELINE_DB (storeline), STORELINE_STACK_DIR (.stack), JAVA_HOME, MAVEN_REPO (~/.m2/repository).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK=${STORELINE_STACK_DIR:-$ROOT/.stack}
KAFKA_PORT=${STORELINE_KAFKA_PORT:-9092}
CONTROLLER_PORT=${STORELINE_CONTROLLER_PORT:-9093}
REGISTRY_PORT=${STORELINE_REGISTRY_PORT:-8081}
PG_HOST=${STORELINE_PG_HOST:-127.0.0.1}
PG_PORT=${STORELINE_PG_PORT:-5432}
PG_USER=${STORELINE_PG_USER:-postgres}
DB=${STORELINE_DB:-storeline}
REGISTRY_DB=${DB}_registry
APICURIO_VERSION=3.0.9 # last app build on Central that runs on Java 17 (3.3.x needs Java 21)
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/scripts/stack/pom.xml")
MAVEN_REPO=${MAVEN_REPO:-$HOME/.m2/repository}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

LIB=$STACK/lib
LOGS=$STACK/logs
RUN=$STACK/run
DATA=$STACK/data

log() { printf '[stack] %s\n' "$*" >&2; }
fail() {
  local part=$1 logfile=${2:-}
  log "FAILED: $part"
  if [ -n "$logfile" ] && [ -f "$logfile" ]; then
    log "last lines of $logfile:"
    tail -n 40 "$logfile" >&2
  fi
  exit 1
}

pid_alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

psql_q() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -v ON_ERROR_STOP=1 -qtA "$@"; }

# ---------------------------------------------------------------- PostgreSQL
ensure_postgres() {
  if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      log "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting the Debian cluster"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2 || true
    elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      log "no PostgreSQL found; installing Debian's postgresql package"
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      local v
      v=$(ls /etc/postgresql | head -n1)
      # Local development only: trust on loopback, as on the project's machines.
      sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "/etc/postgresql/$v/main/pg_hba.conf"
      pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2
    fi
    for _ in $(seq 1 30); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 1; done
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || fail "PostgreSQL on $PG_HOST:$PG_PORT does not answer"
  fi
  for db in "$DB" "$REGISTRY_DB"; do
    if [ "$(psql_q -d postgres -c "select 1 from pg_database where datname='$db'")" != 1 ]; then
      psql_q -d postgres -c "create database \"$db\"" >/dev/null || fail "create database $db"
    fi
  done
  [ "$(psql_q -d "$DB" -c 'select 1')" = 1 ] || fail "query on database $DB"
}

# ---------------------------------------------------------------- artifacts
ensure_artifacts() {
  if [ ! -f "$LIB/kafka/.version" ] || [ "$(cat "$LIB/kafka/.version")" != "$KAFKA_VERSION" ]; then
    log "resolving Kafka $KAFKA_VERSION from Maven Central (cached in $MAVEN_REPO)"
    rm -rf "$LIB/kafka"
    mvn -q -B -f "$ROOT/scripts/stack/pom.xml" -Dstack.dir="$STACK" process-resources >"$STACK/mvn-kafka.log" 2>&1 ||
      fail "Maven could not resolve Kafka" "$STACK/mvn-kafka.log"
    echo "$KAFKA_VERSION" >"$LIB/kafka/.version"
  fi
  if [ ! -f "$LIB/apicurio/.version" ] || [ "$(cat "$LIB/apicurio/.version")" != "$APICURIO_VERSION" ]; then
    local zip=$MAVEN_REPO/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.zip
    if [ ! -f "$zip" ]; then
      log "resolving Apicurio Registry $APICURIO_VERSION from Maven Central"
      mvn -q -B dependency:get -Dtransitive=false -Dmaven.repo.local="$MAVEN_REPO" \
        -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:zip:all" >"$STACK/mvn-apicurio.log" 2>&1 ||
        fail "Maven could not resolve Apicurio Registry" "$STACK/mvn-apicurio.log"
    fi
    rm -rf "$LIB/apicurio" && mkdir -p "$LIB/apicurio"
    unzip -q "$zip" -d "$LIB/apicurio" || fail "unzip $zip"
    echo "$APICURIO_VERSION" >"$LIB/apicurio/.version"
  fi
}

# ---------------------------------------------------------------- Kafka
kafka_config() {
  mkdir -p "$DATA/kafka"
  cat >"$RUN/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA/kafka
num.partitions=6
# Single node: internal topics cannot be replicated; transactions need these at 1.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=-1
EOF
  cat >"$RUN/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.logger.kafka=INFO
log4j.logger.kafka.server.KafkaServer=INFO
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOGS/kafka-server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

start_kafka() {
  if pid_alive kafka; then return; fi
  kafka_config
  local cp="$LIB/kafka/*" jopts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$RUN/log4j.properties")
  if [ ! -f "$DATA/kafka/meta.properties" ]; then
    local id
    id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    log "formatting Kafka storage (cluster $id)"
    "$JAVA" "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$id" -c "$RUN/server.properties" \
      >"$LOGS/kafka-format.log" 2>&1 || fail "Kafka storage format" "$LOGS/kafka-format.log"
  fi
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  # setsid: Ctrl-C in the terminal that ran `npm start` must not kill the shared stack.
  setsid nohup "$JAVA" "${jopts[@]}" -cp "$cp" kafka.Kafka "$RUN/server.properties" >"$LOGS/kafka.log" 2>&1 </dev/null &
  echo $! >"$RUN/kafka.pid"
}

# ---------------------------------------------------------------- Apicurio
start_registry() {
  if pid_alive registry; then return; fi
  log "starting Apicurio Registry $APICURIO_VERSION on 127.0.0.1:$REGISTRY_PORT (storage: PostgreSQL $REGISTRY_DB)"
  # Schemas live in PostgreSQL so their ids stay valid for records already on Kafka across restarts.
  (
    cd "$LIB/apicurio"
    QUARKUS_HTTP_HOST=127.0.0.1 QUARKUS_HTTP_PORT=$REGISTRY_PORT \
      APICURIO_STORAGE_KIND=sql APICURIO_STORAGE_SQL_KIND=postgresql \
      APICURIO_DATASOURCE_URL="jdbc:postgresql://$PG_HOST:$PG_PORT/$REGISTRY_DB" \
      APICURIO_DATASOURCE_USERNAME="$PG_USER" APICURIO_DATASOURCE_PASSWORD="${STORELINE_PG_PASSWORD:-}" \
      setsid nohup "$JAVA" -Xms128m -Xmx512m -jar "apicurio-registry-app-$APICURIO_VERSION-runner.jar" \
      >"$LOGS/registry.log" 2>&1 </dev/null &
    echo $! >"$RUN/registry.pid"
  )
}

# ---------------------------------------------------------------- readiness
kafka_ready() { node "$ROOT/scripts/stack/probe-kafka.js" "127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1; }
registry_ready() { curl -fsS -m 2 "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects" >/dev/null 2>&1; }

wait_for() {
  local part=$1 check=$2 pidname=$3 logfile=$4 secs=${5:-120}
  for _ in $(seq 1 "$secs"); do
    if $check; then return 0; fi
    pid_alive "$pidname" || fail "$part exited during start-up" "$logfile"
    sleep 1
  done
  fail "$part not ready after ${secs}s" "$logfile"
}

print_env() {
  echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
  echo "SCHEMA_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
  echo "DATABASE_URL=postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB"
}

stop_one() {
  local name=$1
  pid_alive "$name" || { rm -f "$RUN/$name.pid"; return 0; }
  local pid
  pid=$(cat "$RUN/$name.pid")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && { log "$name did not stop in 30s; killing"; kill -KILL "$pid" 2>/dev/null || true; }
  rm -f "$RUN/$name.pid"
}

cmd=${1:-up}
mkdir -p "$LIB" "$LOGS" "$RUN" "$DATA"
case "$cmd" in
  up)
    command -v "$JAVA" >/dev/null 2>&1 || fail "no java on PATH (Java 17+ is needed, or use docker-compose.yml)"
    ensure_postgres
    # Already up, ours or another checkout's on the same ports: reuse it rather than fight over ports.
    if kafka_ready && registry_ready; then
      log "already up"
      print_env
      exit 0
    fi
    command -v mvn >/dev/null 2>&1 || fail "no mvn on PATH (Maven fetches Kafka and the registry from Maven Central)"
    ensure_artifacts
    start_kafka
    start_registry
    wait_for "Kafka" kafka_ready kafka "$LOGS/kafka.log" 120
    wait_for "schema registry" registry_ready registry "$LOGS/registry.log" 180
    log "up: Kafka, schema registry and PostgreSQL answer"
    print_env
    ;;
  down)
    stop_one registry
    stop_one kafka
    ;;
  purge)
    stop_one registry
    stop_one kafka
    rm -rf "$DATA"
    psql_q -d postgres -c "drop database if exists \"$REGISTRY_DB\"" >/dev/null 2>&1 || true
    log "purged $DATA and database $REGISTRY_DB"
    ;;
  status)
    rc=0
    if pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then echo "postgres: up ($PG_HOST:$PG_PORT/$DB)"; else echo "postgres: down"; rc=1; fi
    if pid_alive kafka && kafka_ready; then echo "kafka: up (127.0.0.1:$KAFKA_PORT, pid $(cat "$RUN/kafka.pid"))"; else echo "kafka: down"; rc=1; fi
    if pid_alive registry && registry_ready; then echo "registry: up (127.0.0.1:$REGISTRY_PORT, pid $(cat "$RUN/registry.pid"))"; else echo "registry: down"; rc=1; fi
    exit $rc
    ;;
  env) print_env ;;
  *)
    echo "usage: stack.sh up|down|status|purge|env" >&2
    exit 2
    ;;
esac
