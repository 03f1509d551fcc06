# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Shared by deploy/local/{up,down,kafka-restart,redis-restart,kill-kafka,kafka-tool}.
# Sourced, not run. Callers have `set -euo pipefail`.

QS_LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

QS_CACHE="${QUICKSTEP_CACHE:-$HOME/.cache/quickstep}"
QS_RUN="${QUICKSTEP_RUN_DIR:-$QS_CACHE/run}"

KAFKA_VERSION="${QUICKSTEP_KAFKA_VERSION:-4.4.0}"
KAFKA_HOST=127.0.0.1
# Node 0's ports; node i of a cluster (up --brokers N) listens on base + i.
KAFKA_BASE_PORT="${QUICKSTEP_KAFKA_PORT:-9092}"
# How many brokers: what `up --brokers N` last started on this port (remembered in the run
# directory for down/kafka-restart/kill-kafka), else QUICKSTEP_KAFKA_BROKERS, else 1.
KAFKA_BROKERS_FILE="$QS_RUN/kafka-$KAFKA_BASE_PORT.brokers"
if [[ -n "${QUICKSTEP_KAFKA_BROKERS:-}" ]]; then
  KAFKA_BROKERS="$QUICKSTEP_KAFKA_BROKERS"
elif [[ -s "$KAFKA_BROKERS_FILE" ]]; then
  KAFKA_BROKERS="$(cat "$KAFKA_BROKERS_FILE")"
else
  KAFKA_BROKERS=1
fi
KAFKA_CONTROLLER_BASE_PORT="${QUICKSTEP_KAFKA_CONTROLLER_PORT:-$((KAFKA_BASE_PORT + KAFKA_BROKERS))}"
# A second listener per broker for clients that reach it through a TCP proxy (the chaos
# suite's Toxiproxy): node i binds QUICKSTEP_KAFKA_PROXIED_PORT + i and advertises
# QUICKSTEP_KAFKA_PROXY_PORT + i, where the proxy listens. Unset: no such listener.
KAFKA_PROXIED_BASE_PORT="${QUICKSTEP_KAFKA_PROXIED_PORT:-}"
KAFKA_PROXY_BASE_PORT="${QUICKSTEP_KAFKA_PROXY_PORT:-}"
KAFKA_PARTITIONS="${QUICKSTEP_KAFKA_PARTITIONS:-6}"
KAFKA_HEAP="${QUICKSTEP_KAFKA_HEAP:-1g}"
KAFKA_LIBS="$QS_CACHE/kafka-$KAFKA_VERSION/libs"

# kafka_node I: points KAFKA_PORT, KAFKA_DIR, KAFKA_PID… at node I (0 is the first).
kafka_node() {
  KAFKA_NODE=$1
  KAFKA_NODE_ID=$((KAFKA_NODE + 1))
  KAFKA_PORT=$((KAFKA_BASE_PORT + KAFKA_NODE))
  KAFKA_CONTROLLER_PORT=$((KAFKA_CONTROLLER_BASE_PORT + KAFKA_NODE))
  KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
  # One directory per broker port, so two brokers on different ports can coexist.
  KAFKA_DIR="$QS_RUN/kafka-$KAFKA_PORT"
  KAFKA_DATA="$KAFKA_DIR/data"
  KAFKA_LOGS="$KAFKA_DIR/logs"
  KAFKA_CONF="$KAFKA_DIR/server.properties"
  KAFKA_PID="$KAFKA_DIR/kafka.pid"
}
kafka_node 0
# Every node's address, comma-separated: the bootstrap list of a cluster.
KAFKA_ALL_BOOTSTRAP="$(for ((n = 0; n < KAFKA_BROKERS; n++)); do printf '%s%s:%s' "$([[ $n -gt 0 ]] && echo ,)" "$KAFKA_HOST" $((KAFKA_BASE_PORT + n)); done)"

REDIS_HOST=127.0.0.1
REDIS_PORT="${QUICKSTEP_REDIS_PORT:-6379}"
REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT"
REDIS_DIR="$QS_RUN/redis-$REDIS_PORT"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
# everysec loses at most the last second of claims on a crash; `always` none (the chaos
# suite's kill -9 of redis runs with it).
REDIS_APPENDFSYNC="${QUICKSTEP_REDIS_APPENDFSYNC:-everysec}"

QS_TIMEOUT="${QUICKSTEP_UP_TIMEOUT:-120}"
QS_STOP_TIMEOUT="${QUICKSTEP_STOP_TIMEOUT:-30}"

if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
  QS_JAVA="$JAVA_HOME/bin/java"
else
  QS_JAVA=java
fi

log() { printf '[quickstep-local] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Serialises up/down/restart across shells (and across worktrees sharing the cache).
qs_lock() {
  mkdir -p "$QS_RUN"
  exec 9>"$QS_RUN/.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || die "could not take $QS_RUN/.lock within 300 s"
  fi
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_alive PIDFILE PATTERN: the pid in PIDFILE is alive and its command line
# contains PATTERN (guards against a recycled pid).
pid_alive() {
  local pidfile=$1 pattern=$2 pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"
}

# stop_pid NAME PIDFILE PATTERN: SIGTERM, wait QS_STOP_TIMEOUT s, then SIGKILL.
stop_pid() {
  local name=$1 pidfile=$2 pattern=$3 pid i
  if ! pid_alive "$pidfile" "$pattern"; then
    rm -f "$pidfile"
    log "$name is not running"
    return 0
  fi
  pid="$(cat "$pidfile")"
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < QS_STOP_TIMEOUT * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within ${QS_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$pidfile"
  log "$name stopped"
}

# ---------------------------------------------------------------- Kafka

kafka_running() { pid_alive "$KAFKA_PID" kafka.Kafka; }

# Runs one of Kafka's command-line classes against the cached jars.
kafka_java_tool() {
  "$QS_JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$QS_LOCAL_DIR/kafka/tools-log4j2.xml" \
    -cp "$KAFKA_LIBS/*" "$@"
}

# A metadata round trip: lists topics. Succeeds only if the broker serves requests.
kafka_healthy() {
  port_open "$KAFKA_PORT" || return 1
  [[ -f "$KAFKA_LIBS/.complete" ]] || return 1
  timeout 30 "$QS_JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$QS_LOCAL_DIR/kafka/tools-log4j2.xml" \
    -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$KAFKA_BOOTSTRAP" --list >/dev/null 2>&1
}

kafka_log_tail() {
  local f
  for f in "$KAFKA_LOGS/stdout.log" "$KAFKA_LOGS/server.log"; do
    if [[ -s "$f" ]]; then
      log "--- last 40 lines of $f ---"
      tail -n 40 "$f" >&2
    fi
  done
}

stop_kafka() { stop_pid kafka "$KAFKA_PID" kafka.Kafka; }

# ---------------------------------------------------------------- redis

redis_running() { pid_alive "$REDIS_PID" redis-server; }

redis_healthy() {
  command -v redis-cli >/dev/null 2>&1 || return 1
  [[ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

redis_log_tail() {
  if [[ -s "$REDIS_LOG" ]]; then
    log "--- last 40 lines of $REDIS_LOG ---"
    tail -n 40 "$REDIS_LOG" >&2
  fi
}

stop_redis() { stop_pid redis "$REDIS_PID" redis-server; }
