#!/usr/bin/env bash
# Storeline's embedded local stack, without Docker: Apache Kafka in KRaft mode (one node, or three
# with STORELINE_BROKERS=3; every node is broker+controller) and Apicurio Registry (Confluent-compatible
# API at /apis/ccompat/v7) as local Java processes from Maven Central artifacts, plus PostgreSQL.
# The same script serves `npm start`, the tests and CI.
#
#   stack.sh up      start what is not running, wait for real readiness, print KAFKA_BROKERS=…,
#                    SCHEMA_REGISTRY_URL=…, DATABASE_URL=… on stdout (progress goes to stderr),
#                    so `eval "$(bash scripts/stack/stack.sh up)"` works
#   stack.sh down    stop Kafka (every node found, in either mode) and the registry; data is kept
#   stack.sh status  one line per part (one per broker with STORELINE_BROKERS=3)
#   stack.sh purge   down, then delete .stack/data (topics, offsets) and the registry database
#   stack.sh env     print the three lines of `up` without starting anything
#
# Fault injection (chaos tests). N is a node id 1..3, required with STORELINE_BROKERS=3 and optional
# (or 1) in single-node mode; every command uses the same environment as `up`:
#   stack.sh kafka-stop [N]   SIGTERM (controlled shutdown; SIGKILL after 30 s) and wait until it exits
#   stack.sh kafka-kill [N]   SIGKILL (a crash) and wait until it is gone
#   stack.sh kafka-start [N]  start it again and wait until it answers and sees every running node
#   stack.sh registry-stop    SIGTERM the schema registry and wait until it exits
#   stack.sh registry-start   start the schema registry and wait until it answers
#
# Settings (environment): STORELINE_BROKERS (1, or 3), STORELINE_KAFKA_PORT (9092),
# STORELINE_CONTROLLER_PORT (9093), STORELINE_REGISTRY_PORT (8081), STORELINE_PG_HOST/PORT/USER
# (127.0.0.1/5432/postgres), STORELINE_DB (storeline), STORELINE_STACK_DIR (.stack), JAVA_HOME,
# MAVEN_REPO (~/.m2/repository).
#
# Ports and files per node:
#   STORELINE_BROKERS=1  node id 1: broker KAFKA_PORT, controller CONTROLLER_PORT;
#                        data/kafka, logs/kafka.log (+ kafka-server.log), run/kafka.pid
#   STORELINE_BROKERS=3  node i (1..3): broker KAFKA_PORT+i-1, controller CONTROLLER_PORT+10*i
#                        (defaults: brokers 9092 9093 9094, controllers 9103 9113 9123);
#                        data/kafka-i, logs/kafka-i.log (+ kafka-i-server.log), run/kafka-i.pid.
#                        Controller quorum of 3, one cluster id; default topics and the offsets and
#                        transaction-state topics get replication factor 3 and min.insync.replicas 2.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK=${STORELINE_STACK_DIR:-$ROOT/.stack}
BROKERS=${STORELINE_BROKERS:-1}
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

case "$BROKERS" in
  1 | 3) ;;
  *) fail "STORELINE_BROKERS must be 1 or 3 (got '$BROKERS')" ;;
esac

# Process $1 exists and is not a zombie waiting to be reaped.
proc_running() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }
pid_alive() { [ -f "$RUN/$1.pid" ] && proc_running "$(cat "$RUN/$1.pid")"; }

# Something accepts connections on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

psql_q() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -v ON_ERROR_STOP=1 -qtA "$@"; }

# ---------------------------------------------------------------- PostgreSQL
ensure_postgres() {
  if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      log "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting the Debian cluster"
      # shellcheck disable=SC2012 # version-named directories
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2 || true
    elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      log "no PostgreSQL found; installing Debian's postgresql package"
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      local v
      # shellcheck disable=SC2012
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
# Runs a Maven command with its output in LOGFILE, printing every 5 s how much it has downloaded so far:
# the first start fetches ~150 MB, and a silent minute looks like a hang.
with_progress() {
  local logfile=$1 label=$2
  shift 2
  "$@" >"$logfile" 2>&1 &
  local pid=$! started=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    kill -0 "$pid" 2>/dev/null || break
    local files mb
    files=$(grep -c 'Downloaded from' "$logfile" 2>/dev/null || true)
    mb=$(grep -o 'Downloaded from .*(\([0-9.]*\) \(kB\|MB\)' "$logfile" 2>/dev/null |
      awk -F'[( ]' '{ v=$(NF-1); if ($NF=="kB") v/=1024; s+=v } END { printf "%.0f", s }')
    log "$label: ${files:-0} files, ${mb:-0} MB downloaded ($((SECONDS - started)) s)"
  done
  wait "$pid"
}

ensure_artifacts() {
  if [ ! -f "$LIB/kafka/.version" ] || [ "$(cat "$LIB/kafka/.version")" != "$KAFKA_VERSION" ]; then
    log "resolving Kafka $KAFKA_VERSION from Maven Central (cached in $MAVEN_REPO)"
    rm -rf "$LIB/kafka"
    with_progress "$STACK/mvn-kafka.log" "Kafka $KAFKA_VERSION" \
      mvn -B -f "$ROOT/scripts/stack/pom.xml" -Dstack.dir="$STACK" process-resources ||
      fail "Maven could not resolve Kafka" "$STACK/mvn-kafka.log"
    echo "$KAFKA_VERSION" >"$LIB/kafka/.version"
  fi
  if [ ! -f "$LIB/apicurio/.version" ] || [ "$(cat "$LIB/apicurio/.version")" != "$APICURIO_VERSION" ]; then
    local zip=$MAVEN_REPO/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.zip
    if [ ! -f "$zip" ]; then
      log "resolving Apicurio Registry $APICURIO_VERSION from Maven Central"
      with_progress "$STACK/mvn-apicurio.log" "Apicurio Registry $APICURIO_VERSION" \
        mvn -B dependency:get -Dtransitive=false -Dmaven.repo.local="$MAVEN_REPO" \
        -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:zip:all" ||
        fail "Maven could not resolve Apicurio Registry" "$STACK/mvn-apicurio.log"
    fi
    rm -rf "$LIB/apicurio" && mkdir -p "$LIB/apicurio"
    unzip -q "$zip" -d "$LIB/apicurio" || fail "unzip $zip"
    echo "$APICURIO_VERSION" >"$LIB/apicurio/.version"
  fi
}

# ---------------------------------------------------------------- Kafka nodes
node_ids() { seq 1 "$BROKERS"; }

# Sets N_NAME, N_PORT, N_CPORT, N_DATA, N_PROPS, N_LOG4J, N_LOG and N_SLOG for node $1 of this mode.
node_vars() {
  local i=$1
  N_PORT=$((KAFKA_PORT + i - 1))
  if [ "$BROKERS" = 1 ]; then
    N_NAME=kafka N_CPORT=$CONTROLLER_PORT N_DATA=$DATA/kafka
    N_PROPS=$RUN/server.properties N_LOG4J=$RUN/log4j.properties
  else
    N_NAME=kafka-$i N_CPORT=$((CONTROLLER_PORT + 10 * i)) N_DATA=$DATA/kafka-$i
    N_PROPS=$RUN/server-$i.properties N_LOG4J=$RUN/log4j-$i.properties
  fi
  N_LOG=$LOGS/$N_NAME.log N_SLOG=$LOGS/$N_NAME-server.log
}

broker_list() {
  local i out=()
  for i in $(node_ids); do
    node_vars "$i"
    out+=("127.0.0.1:$N_PORT")
  done
  (IFS=,; echo "${out[*]}")
}

quorum_voters() {
  local i out=()
  for i in $(node_ids); do
    node_vars "$i"
    out+=("$i@127.0.0.1:$N_CPORT")
  done
  (IFS=,; echo "${out[*]}")
}

# Every port of this mode once, and none shared with the registry.
check_ports() {
  local i ports=("$REGISTRY_PORT")
  for i in $(node_ids); do
    node_vars "$i"
    ports+=("$N_PORT" "$N_CPORT")
  done
  local dup
  dup=$(printf '%s\n' "${ports[@]}" | sort | uniq -d | head -n1)
  [ -z "$dup" ] || fail "port $dup is used twice (Kafka ${KAFKA_PORT}+, controllers, registry $REGISTRY_PORT); see the top of $0"
}

kafka_config() {
  local i=$1 rf=1 isr=1
  node_vars "$i"
  if [ "$BROKERS" -ge 3 ]; then rf=3 isr=2; fi
  mkdir -p "$N_DATA"
  cat >"$N_PROPS" <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$(quorum_voters)
listeners=PLAINTEXT://127.0.0.1:$N_PORT,CONTROLLER://127.0.0.1:$N_CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$N_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$N_DATA
num.partitions=6
# $BROKERS node(s): replication factor $rf, min.insync.replicas $isr. A single node cannot replicate
# (transactions need the internal topics at 1 then); three keep accepting acks=all writes with one down.
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=10
default.replication.factor=$rf
min.insync.replicas=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=-1
PROPS
  cat >"$N_LOG4J" <<LOG4J
log4j.rootLogger=WARN, file
log4j.logger.kafka=INFO
log4j.logger.kafka.server.KafkaServer=INFO
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$N_SLOG
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
LOG4J
}

# The cluster id of an already formatted node of this mode, or a new one: all nodes share it.
cluster_id() {
  local i id=
  for i in $(node_ids); do
    node_vars "$i"
    if [ -f "$N_DATA/meta.properties" ]; then
      id=$(sed -n 's/^cluster\.id=//p' "$N_DATA/meta.properties")
      [ -n "$id" ] && break
    fi
  done
  [ -n "$id" ] || id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  # One id in 64 starts with '-', which kafka-storage's argument parser takes for an option (seen in CI):
  # any other base64url character in front still decodes to 16 bytes.
  echo "${id/#-/A}"
}

kafka_jopts() {
  if [ "$BROKERS" = 1 ]; then
    JOPTS=(-Xms256m -Xmx768m)
  else
    JOPTS=(-Xms128m -Xmx512m) # three JVMs on a small machine
  fi
  JOPTS+=(-XX:+UseG1GC -Djava.awt.headless=true "-Dlog4j.configuration=file:$N_LOG4J")
}

start_node() {
  local i=$1 id
  node_vars "$i"
  if pid_alive "$N_NAME"; then return; fi
  local port
  for port in "$N_PORT" "$N_CPORT"; do
    port_busy "$port" && fail "port $port (for $N_NAME) is taken by another process; another stack? (see 'stack.sh status', STORELINE_*_PORT)"
  done
  id=$(cluster_id)
  kafka_config "$i"
  kafka_jopts
  local cp="$LIB/kafka/*"
  if [ ! -f "$N_DATA/meta.properties" ]; then
    log "formatting Kafka storage of $N_NAME (cluster $id)"
    "$JAVA" "${JOPTS[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$id" -c "$N_PROPS" \
      >"$LOGS/$N_NAME-format.log" 2>&1 || fail "Kafka storage format ($N_NAME)" "$LOGS/$N_NAME-format.log"
  fi
  log "starting Kafka $KAFKA_VERSION node $i on 127.0.0.1:$N_PORT (controller 127.0.0.1:$N_CPORT)"
  # setsid: Ctrl-C in the terminal that ran `npm start` must not kill the shared stack.
  setsid nohup "$JAVA" "${JOPTS[@]}" -cp "$cp" kafka.Kafka "$N_PROPS" >"$N_LOG" 2>&1 </dev/null &
  echo $! >"$RUN/$N_NAME.pid"
}

start_kafka() {
  local i
  for i in $(node_ids); do start_node "$i"; done
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
# probe BROKERS [COUNT]: each listed broker answers a metadata request that shows a controller and at
# least COUNT brokers. Prints "brokers=… controller=…" as the first broker sees it.
probe() { node "$ROOT/scripts/stack/probe-kafka.js" "$@" 2>/dev/null; }
kafka_ready() { probe "$(broker_list)" "$BROKERS" >/dev/null; }
registry_ready() { curl -fsS -m 2 "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects" >/dev/null 2>&1; }

# How many Kafka nodes of this mode have a live process.
kafka_running() {
  local i n=0
  for i in $(node_ids); do
    node_vars "$i"
    if pid_alive "$N_NAME"; then n=$((n + 1)); fi
  done
  echo "$n"
}

# Set by the *_alive checks: the log of the process that is gone.
DEAD_LOG=
kafka_alive() {
  local i
  for i in $(node_ids); do
    node_vars "$i"
    pid_alive "$N_NAME" || { DEAD_LOG=$N_LOG; return 1; }
  done
}
registry_alive() { pid_alive registry || { DEAD_LOG=$LOGS/registry.log; return 1; }; }

# Node $NODE answers and sees every node of this mode that has a live process (itself included).
NODE=1
node_ready() {
  local expected
  expected=$(kafka_running)
  node_vars "$NODE"
  probe "127.0.0.1:$N_PORT" "$expected" >/dev/null
}
node_alive() {
  node_vars "$NODE"
  pid_alive "$N_NAME" || { DEAD_LOG=$N_LOG; return 1; }
}

# wait_for PART CHECK ALIVE SECS LOG: poll CHECK every second; give up when ALIVE fails (showing the
# log it names in DEAD_LOG) or after SECS (showing LOG).
wait_for() {
  local part=$1 check=$2 alive=$3 secs=$4 logfile=$5
  for _ in $(seq 1 "$secs"); do
    if $check; then return 0; fi
    $alive || fail "$part exited during start-up" "$DEAD_LOG"
    sleep 1
  done
  fail "$part not ready after ${secs}s" "$logfile"
}

print_env() {
  echo "KAFKA_BROKERS=$(broker_list)"
  echo "SCHEMA_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
  echo "DATABASE_URL=postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB"
}

# stop_procs SIGNAL NAME...: signal every named process that runs (all at once, so a KRaft quorum
# shuts down together), wait up to 30 s, SIGKILL what is left, remove the pid files.
stop_procs() {
  local sig=$1 name pid pids=()
  shift
  for name in "$@"; do
    if pid_alive "$name"; then
      pid=$(cat "$RUN/$name.pid")
      log "stopping $name (pid $pid, SIG$sig)"
      kill "-$sig" "$pid" 2>/dev/null || true
      pids+=("$pid")
    else
      rm -f "$RUN/$name.pid"
    fi
  done
  for _ in $(seq 1 150); do
    local left=0
    for pid in ${pids[@]+"${pids[@]}"}; do
      if proc_running "$pid"; then left=1; fi
    done
    [ "$left" = 0 ] && break
    sleep 0.2
  done
  for pid in ${pids[@]+"${pids[@]}"}; do
    if proc_running "$pid"; then
      log "pid $pid did not stop in 30s; killing"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do proc_running "$pid" || break; sleep 0.2; done
    fi
  done
  for name in "$@"; do rm -f "$RUN/$name.pid"; done
}

# Every Kafka node with a pid file in this stack dir, of either mode.
all_kafka_names() {
  local f
  for f in "$RUN"/kafka.pid "$RUN"/kafka-*.pid; do
    [ -f "$f" ] && basename "$f" .pid
  done
  return 0
}

# The node id given to kafka-stop/-kill/-start: required with several brokers, optional (1) with one.
node_arg() {
  local n=${1:-}
  if [ -z "$n" ]; then
    [ "$BROKERS" = 1 ] || fail "$cmd needs a node id 1..$BROKERS (STORELINE_BROKERS=$BROKERS)"
    n=1
  fi
  case "$n" in
    [1-9]) [ "$n" -le "$BROKERS" ] || fail "$cmd: no node $n (STORELINE_BROKERS=$BROKERS)" ;;
    *) fail "$cmd: node id must be 1..$BROKERS (got '$n')" ;;
  esac
  echo "$n"
}

cmd=${1:-up}
mkdir -p "$LIB" "$LOGS" "$RUN" "$DATA"
case "$cmd" in
  up)
    command -v "$JAVA" >/dev/null 2>&1 || fail "no java on PATH (Java 17+ is needed, or use docker-compose.yml)"
    check_ports
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
    node_vars 1
    wait_for "Kafka ($BROKERS node(s))" kafka_ready kafka_alive $((BROKERS > 1 ? 240 : 120)) "$N_LOG"
    wait_for "schema registry" registry_ready registry_alive 180 "$LOGS/registry.log"
    log "up: Kafka ($BROKERS broker(s)), schema registry and PostgreSQL answer"
    print_env
    ;;
  down)
    # shellcheck disable=SC2046 # names without spaces
    stop_procs TERM registry $(all_kafka_names)
    ;;
  purge)
    # shellcheck disable=SC2046
    stop_procs TERM registry $(all_kafka_names)
    rm -rf "$DATA"
    psql_q -d postgres -c "drop database if exists \"$REGISTRY_DB\"" >/dev/null 2>&1 || true
    log "purged $DATA and database $REGISTRY_DB"
    ;;
  status)
    rc=0
    if pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then echo "postgres: up ($PG_HOST:$PG_PORT/$DB)"; else echo "postgres: down"; rc=1; fi
    for i in $(node_ids); do
      node_vars "$i"
      if pid_alive "$N_NAME" && seen=$(probe "127.0.0.1:$N_PORT"); then
        echo "$N_NAME: up (127.0.0.1:$N_PORT, controller 127.0.0.1:$N_CPORT, pid $(cat "$RUN/$N_NAME.pid"), $seen)"
      else
        echo "$N_NAME: down (127.0.0.1:$N_PORT)"
        rc=1
      fi
    done
    if [ "$BROKERS" = 1 ] && ls "$RUN"/kafka-*.pid >/dev/null 2>&1; then
      log "note: this stack dir has pid files of a multi-broker stack; set STORELINE_BROKERS=3"
    elif [ "$BROKERS" != 1 ] && [ -f "$RUN/kafka.pid" ]; then
      log "note: this stack dir has the pid file of a single-node stack; unset STORELINE_BROKERS"
    fi
    if pid_alive registry && registry_ready; then echo "registry: up (127.0.0.1:$REGISTRY_PORT, pid $(cat "$RUN/registry.pid"))"; else echo "registry: down"; rc=1; fi
    exit $rc
    ;;
  env) print_env ;;
  kafka-stop | kafka-kill)
    NODE=$(node_arg "${2:-}")
    node_vars "$NODE"
    if [ "$cmd" = kafka-kill ]; then stop_procs KILL "$N_NAME"; else stop_procs TERM "$N_NAME"; fi
    ;;
  kafka-start)
    NODE=$(node_arg "${2:-}")
    check_ports
    start_node "$NODE"
    node_vars "$NODE"
    wait_for "Kafka $N_NAME" node_ready node_alive 180 "$N_LOG"
    node_vars "$NODE"
    log "$N_NAME answers on 127.0.0.1:$N_PORT"
    ;;
  registry-stop) stop_procs TERM registry ;;
  registry-start)
    ensure_postgres
    start_registry
    wait_for "schema registry" registry_ready registry_alive 180 "$LOGS/registry.log"
    log "registry answers on 127.0.0.1:$REGISTRY_PORT"
    ;;
  *)
    echo "usage: stack.sh up|down|status|purge|env|kafka-stop [N]|kafka-kill [N]|kafka-start [N]|registry-stop|registry-start" >&2
    exit 2
    ;;
esac
