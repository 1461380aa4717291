#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers at $AMQP_URI before tests, the demo or
# `make run`.
#
#   - Something already listens on the AMQP host:port  -> fine.
#   - Nothing listens, the broker is local and rabbitmq-server is installed
#     -> start it (`rabbitmq-server -detached`) and wait up to 60 s.
#   - Nothing listens and we cannot start one -> say how to get one, exit 1.
#
# For a local broker it also enables the management plugin (the test suite
# creates a vhost per test through its HTTP API on port 15672), idempotently.
# When everything already runs this takes a few milliseconds: only two TCP
# probes, no rabbitmqctl call.
#
# Env: AMQP_URI (default amqp://guest:guest@127.0.0.1:5672/),
#      RABBITMQ_MANAGEMENT_PORT (default 15672),
#      RABBITMQ_WAIT_SECONDS (default 60).
set -euo pipefail

AMQP_URI="${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}"
MGMT_PORT="${RABBITMQ_MANAGEMENT_PORT:-15672}"
WAIT_SECONDS="${RABBITMQ_WAIT_SECONDS:-60}"
PATH="$PATH:/usr/sbin:/usr/local/sbin:/sbin"

log() { printf 'ensure_rabbitmq: %s\n' "$*" >&2; }

# --- parse scheme://[user[:pass]@]host[:port][/vhost][?query] ---------------
uri="$AMQP_URI"
scheme="${uri%%://*}"
[[ "$scheme" == "$uri" ]] && scheme="amqp"   # no scheme given
rest="${uri#*://}"
hostport="${rest%%[/?]*}"                    # drop /vhost and ?query
hostport="${hostport##*@}"                   # drop credentials
if [[ "$hostport" == \[* ]]; then            # [ipv6]:port
    host="${hostport#\[}"; host="${host%%\]*}"
    port="${hostport##*\]}"; port="${port#:}"
else
    host="${hostport%%:*}"
    port=""
    [[ "$hostport" == *:* ]] && port="${hostport##*:}"
fi
host="${host:-127.0.0.1}"
if [[ -z "$port" ]]; then
    case "$scheme" in amqps|pyamqps) port=5671 ;; *) port=5672 ;; esac
fi
# A safe display form (no password).
where="${scheme}://${host}:${port}"

# --- helpers ----------------------------------------------------------------
answers() {  # answers HOST PORT: true if a TCP connection succeeds within 2 s
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

wait_port() {  # wait_port HOST PORT SECONDS
    local deadline=$((SECONDS + $3))
    until answers "$1" "$2"; do
        if (( SECONDS >= deadline )); then return 1; fi
        sleep 1
    done
}

is_local() {
    case "$1" in
        localhost|127.*|::1|0.0.0.0|"$(hostname 2>/dev/null)"|"$(hostname -f 2>/dev/null)") return 0 ;;
        *) return 1 ;;
    esac
}

how_to_get_one() {
    cat >&2 <<MSG
ensure_rabbitmq: no RabbitMQ answers at ${where}.
  Get one of these:
    - install it locally:  sudo apt-get install rabbitmq-server
                           (then re-run; this script starts it and enables
                           the management plugin the tests need)
    - point AMQP_URI at a running broker, e.g.
          export AMQP_URI=amqp://user:pass@broker.example:5672/
    - run one in Docker:   docker compose -f deploy/docker-compose.yml up -d rabbitmq
MSG
}

ensure_management() {  # local broker only: enable plugin, wait for its port
    answers "$host" "$MGMT_PORT" && return 0
    if ! command -v rabbitmq-plugins >/dev/null 2>&1; then
        log "management API not on port ${MGMT_PORT} and rabbitmq-plugins not found;" \
            "tests that create vhosts through it will fail"
        return 0
    fi
    log "enabling rabbitmq_management (management API on port ${MGMT_PORT}) ..."
    if ! rabbitmq-plugins enable rabbitmq_management >/dev/null; then
        log "could not enable rabbitmq_management (try: sudo rabbitmq-plugins enable rabbitmq_management)"
        return 1
    fi
    if ! wait_port "$host" "$MGMT_PORT" "$WAIT_SECONDS"; then
        log "management API did not come up on port ${MGMT_PORT} within ${WAIT_SECONDS} s"
        return 1
    fi
    log "management API answers on port ${MGMT_PORT}"
}

# --- main -------------------------------------------------------------------
if answers "$host" "$port"; then
    if is_local "$host"; then ensure_management; fi
    exit 0
fi

if ! is_local "$host"; then
    log "nothing answers at ${where} (a remote broker: not starting one here)"
    how_to_get_one
    exit 1
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
    how_to_get_one
    exit 1
fi

# A node that is up but listens elsewhere (wrong port in AMQP_URI, IPv6 vs IPv4)
# would make `rabbitmq-server -detached` fail and the wait below time out.
if command -v rabbitmqctl >/dev/null 2>&1 \
        && timeout 10 rabbitmqctl -q ping >/dev/null 2>&1; then
    log "a local RabbitMQ node is running but nothing answers at ${where};" \
        "check the host/port in AMQP_URI (listeners: rabbitmq-diagnostics listeners)"
    exit 1
fi

log "nothing answers at ${where}; starting rabbitmq-server -detached ..."
rabbitmq-server -detached >/dev/null 2>&1 || true   # also fails if already booting
if ! wait_port "$host" "$port" "$WAIT_SECONDS"; then
    log "RabbitMQ did not open port ${port} within ${WAIT_SECONDS} s;" \
        "see /var/log/rabbitmq/ (or: rabbitmqctl status)"
    exit 1
fi
if command -v rabbitmqctl >/dev/null 2>&1; then
    if ! timeout "$WAIT_SECONDS" rabbitmqctl await_startup >/dev/null 2>&1; then
        log "rabbitmqctl await_startup did not confirm startup within ${WAIT_SECONDS} s"
        exit 1
    fi
fi
log "RabbitMQ answers at ${where}"
ensure_management
