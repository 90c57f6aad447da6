#!/usr/bin/env bash
# Runs one Kafka Connect worker in distributed mode (in the foreground: exec java) with Storeline's worker
# settings. Both the local sink (scripts/sink/sink.sh, in the background) and the container
# (connect/Dockerfile, docker-compose.yml's kafka-connect) start the worker through this script.
#
# Environment:
#   CONNECT_BOOTSTRAP_SERVERS  required
#   CONNECT_HOME               where lib/connect/ (worker classpath) and plugins/ are (/opt/connect)
#   CONNECT_GROUP_ID           worker group; internal topics <group>-configs/-offsets/-status (storeline-connect)
#   CONNECT_REST_HOST/PORT     REST listener (0.0.0.0, 8083)
#   CONNECT_ADVERTISED_HOST    host other workers reach this one on (the hostname)
#   CONNECT_CONF_DIR           where worker.properties and log4j.properties are written (a temporary directory)
#   CONNECT_LOG_FILE           log file (rolled, 3 x 20 MB); unset: log to stdout
#   CONNECT_HEAP               -Xmx (512m)
set -euo pipefail
: "${CONNECT_BOOTSTRAP_SERVERS:?CONNECT_BOOTSTRAP_SERVERS is required}"
home=${CONNECT_HOME:-/opt/connect}
group=${CONNECT_GROUP_ID:-storeline-connect}
port=${CONNECT_REST_PORT:-8083}
conf=${CONNECT_CONF_DIR:-$(mktemp -d)}
mkdir -p "$conf"

cat >"$conf/worker.properties" <<PROPS
bootstrap.servers=$CONNECT_BOOTSTRAP_SERVERS
group.id=$group
config.storage.topic=$group-configs
offset.storage.topic=$group-offsets
status.storage.topic=$group-status
# -1: the broker's default.replication.factor (1 on the single-node stack, 3 on three brokers)
config.storage.replication.factor=-1
offset.storage.replication.factor=-1
status.storage.replication.factor=-1
listeners=http://${CONNECT_REST_HOST:-0.0.0.0}:$port
rest.advertised.host.name=${CONNECT_ADVERTISED_HOST:-$(hostname)}
rest.advertised.port=$port
plugin.path=$home/plugins
# Plugins are found through their ServiceLoader manifests (the Apicurio converter gets one from
# connect/plugins/apicurio-converter), not by scanning every class of every jar: a much faster start.
plugin.discovery=service_load
# Defaults; every connector config names its own converters.
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
# Connectors may override their clients' settings (consumer.override.isolation.level=read_committed),
# and sink consumers read only committed records by default too: the canonical topic is transactional.
connector.client.config.override.policy=All
consumer.isolation.level=read_committed
offset.flush.interval.ms=5000
# A group of one: a restarted worker takes its connectors back at once instead of after 5 minutes.
scheduled.rebalance.max.delay.ms=0
task.shutdown.graceful.timeout.ms=10000
PROPS

if [ -n "${CONNECT_LOG_FILE:-}" ]; then
  appender="org.apache.log4j.RollingFileAppender
log4j.appender.out.File=$CONNECT_LOG_FILE
log4j.appender.out.MaxFileSize=20MB
log4j.appender.out.MaxBackupIndex=2"
else
  appender=org.apache.log4j.ConsoleAppender
fi
cat >"$conf/log4j.properties" <<LOG4J
log4j.rootLogger=INFO, out
log4j.appender.out=$appender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %X{connector.context}%m (%c:%L)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=WARN
log4j.logger.org.apache.kafka.connect.runtime.isolation=WARN
log4j.logger.org.reflections=ERROR
log4j.logger.org.eclipse.jetty=WARN
log4j.logger.org.hibernate=WARN
log4j.logger.com.mchange=WARN
LOG4J

exec "${JAVA_HOME:+$JAVA_HOME/bin/}java" "-Xms128m" "-Xmx${CONNECT_HEAP:-512m}" -XX:+UseG1GC \
  -Djava.awt.headless=true -Duser.timezone=UTC "-Dlog4j.configuration=file:$conf/log4j.properties" \
  -cp "$home/lib/connect/*" org.apache.kafka.connect.cli.ConnectDistributed "$conf/worker.properties"
