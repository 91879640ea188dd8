#!/usr/bin/env bash
# Side by side: the same message count through Kannel (bearerbox + smsbox, HTTP sendsms, dlr-url receipts)
# and through smsbridge (benches/load.rs), both against the smsbridge SMSC simulator in its own process, on
# 127.0.0.1. Prints both end-to-end rates and the ratio.
#
#   benches/kannel/run.sh [MESSAGES] [CLIENTS]        (defaults 20000 and 64; env KANNEL_TIMEOUT, default 180 s)
#
# Installs Kannel with apt-get if bearerbox is missing (needs root). Kannel's queue uses its file store
# (store-type = file), so both sides keep accepted messages on disk. Everything started here is stopped by PID
# on exit, also on failure or Ctrl-C. Set KANNEL_ONLY=1 to skip the smsbridge run; SMSBRIDGE_BIN to use
# another smsbridge binary for the simulator (default target/release/smsbridge, built if missing).
set -euo pipefail

N=${1:-20000}
CLIENTS=${2:-64}
TIMEOUT=${KANNEL_TIMEOUT:-180}
WINDOW=256
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${SMSBRIDGE_BIN:-"$ROOT/target/release/smsbridge"}
WORK=$(mktemp -d /tmp/smsbridge-kannel-XXXXXX)
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    echo "run.sh: logs and Kannel store in $WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits (at most $2 seconds) until the command $1 succeeds.
wait_for() {
    local i
    for i in $(seq 1 $(($2 * 10))); do
        if eval "$1" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "run.sh: timed out waiting for: $1" >&2
    return 1
}

# Peak RSS (KiB) and CPU seconds of a process, from /proc.
usage() {
    local pid=$1 hwm ticks cpu
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    ticks=$(getconf CLK_TCK)
    cpu=$(awk -v t="$ticks" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    echo "hwm_kib=$hwm cpu_s=$cpu"
}

if ! command -v bearerbox >/dev/null 2>&1; then
    echo "run.sh: installing kannel"
    DEBIAN_FRONTEND=noninteractive apt-get install -y kannel >/dev/null
fi
KANNEL_VERSION=$(dpkg-query -W -f='${Version}' kannel 2>/dev/null || echo unknown)

if [ ! -x "$BIN" ]; then
    echo "run.sh: building $BIN"
    (cd "$ROOT" && cargo build --release --bin smsbridge)
fi

# --- the SMSC simulator ---------------------------------------------------------------------------------
"$BIN" sim smsc --listen 127.0.0.1:0 --receipt-delay 0 --account smsbridge:load --stats-every 0 \
    --threads 1 >"$WORK/sim.out" 2>"$WORK/sim.err" &
SIM_PID=$!
PIDS+=("$SIM_PID")
wait_for "grep -q '^LISTENING ' '$WORK/sim.out'" 15
SIM_PORT=$(awk '/^LISTENING / {print $2; exit}' "$WORK/sim.out")

# --- Kannel ---------------------------------------------------------------------------------------------
ADMIN_PORT=$(free_port); SMSBOX_PORT=$(free_port); SENDSMS_PORT=$(free_port); DLR_PORT=$(free_port)
sed -e "s|@DIR@|$WORK|g" -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" -e "s|@SMSBOX_PORT@|$SMSBOX_PORT|g" \
    -e "s|@SENDSMS_PORT@|$SENDSMS_PORT|g" -e "s|@SIM_PORT@|$SIM_PORT|g" -e "s|@WINDOW@|$WINDOW|g" \
    "$HERE/kannel.conf.in" >"$WORK/kannel.conf"
bearerbox "$WORK/kannel.conf" >"$WORK/bearerbox.out" 2>&1 &
BB_PID=$!
PIDS+=("$BB_PID")
wait_for "curl -sf 'http://127.0.0.1:$ADMIN_PORT/status.txt?password=load-admin' | grep -q 'online'" 30
smsbox "$WORK/kannel.conf" >"$WORK/smsbox.out" 2>&1 &
SB_PID=$!
PIDS+=("$SB_PID")
wait_for "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $SENDSMS_PORT), 1)'" 30
sleep 1

echo "run.sh: Kannel $KANNEL_VERSION, simulator on 127.0.0.1:$SIM_PORT, $N messages, $CLIENTS HTTP clients, window $WINDOW"
set +e
python3 "$HERE/sendsms_load.py" --sendsms-port "$SENDSMS_PORT" --dlr-port "$DLR_PORT" --messages "$N" \
    --clients "$CLIENTS" --dlr-mask 1 --timeout "$TIMEOUT" | tee "$WORK/kannel-result.txt"
KANNEL_RC=${PIPESTATUS[0]}
set -e
echo "bearerbox: $(usage "$BB_PID"); smsbox: $(usage "$SB_PID"); simulator: $(usage "$SIM_PID")" \
    | tee -a "$WORK/kannel-result.txt"
echo "bearerbox store: $(ls -l "$WORK"/kannel.store* 2>/dev/null | awk '{print $5, $9}' | tr '\n' ' ')"

# Stop Kannel and the simulator before the smsbridge run, so they do not share the cores.
kill -INT "$SIM_PID" 2>/dev/null || true
kill -TERM "$SB_PID" "$BB_PID" 2>/dev/null || true
wait_for "! kill -0 $BB_PID && ! kill -0 $SB_PID && ! kill -0 $SIM_PID" 20 || true
echo "simulator (Kannel run): $(tail -n 1 "$WORK/sim.out")"

if [ "${KANNEL_ONLY:-0}" = 1 ]; then
    exit "$KANNEL_RC"
fi

# --- smsbridge ------------------------------------------------------------------------------------------
echo "run.sh: smsbridge, the same $N messages"
set +e
(cd "$ROOT" && LOAD_MESSAGES=$N LOAD_CLIENTS=$CLIENTS LOAD_WINDOW=$WINDOW LOAD_TIMEOUT_SECS=$TIMEOUT \
    cargo bench --bench load -- single) | tee "$WORK/smsbridge-result.txt"
set -e

K=$(awk '/^RESULT run=kannel/ { for (i = 1; i <= NF; i++) if ($i ~ /^receipts_per_s=/) { split($i, a, "="); print a[2] } }' "$WORK/kannel-result.txt")
S=$(awk '/^RESULT run=single/ { for (i = 1; i <= NF; i++) if ($i ~ /^receipts_per_s=/) { split($i, a, "="); print a[2] } }' "$WORK/smsbridge-result.txt")
echo
echo "== side by side: $N messages, each with a delivery receipt, window $WINDOW =="
echo "Kannel $KANNEL_VERSION (file store): ${K:-?} msgs/s end to end"
echo "smsbridge (SQLite, synchronous=FULL): ${S:-?} msgs/s end to end"
if [ -n "${K:-}" ] && [ -n "${S:-}" ] && [ "$K" != 0 ]; then
    echo "ratio smsbridge / Kannel: $(awk -v s="$S" -v k="$K" 'BEGIN { printf "%.2f", s / k }')x (target >= 4x)"
fi
