#!/usr/bin/env bash
# Multi-host training on one Linux machine: two "hosts" made of network namespaces joined by a
# veth pair, each with its own hostname and address in a private test subnet, Open MPI over TCP
# between them. Trains the same small run in several ways and leaves each for comparison:
#   multi   K ranks on each of the 2 namespace hosts (2K ranks, TCP between the hosts)
#   single  2K ranks on namespace host 1 alone (shared memory)
#   launch  as multi, started the user's way: Launch/train --hostfile (no set-up; TRAINER_BIN)
#
# Usage: Tests/multihost/run.sh [options]        (as root; needs `ip netns`, `unshare`, mpirun)
#   --trainer PATH      trainer binary (default: $TRAINER_BIN, $TRAINER_BIN_DIR/trainer, .build/release/trainer)
#   --out DIR           work folder, kept (default: a temporary one, removed at exit)
#   --runs "multi single launch"  which runs, in order (default "multi single")
#   --ranks-per-host K  (default 2)
#   --rate RATE         shape the link in both directions with tc tbf (e.g. 1gbit; default unshaped)
#   --model NAME --size PX --train N --test N --batch B --epochs E --log-every S
#                       the run (default resnet20, 16 px, 128 train / 32 test, batch 32, 2 epochs, log every 2 steps)
#   --blas-threads N    per rank (default: cores / all ranks, since the namespace hosts share the cores)
#   --timeout S         time limit of each mpirun (default 600)
#   --parent PID        clean up and stop when process PID ends (the XCTest passes its own pid)
# Output in DIR: data.h5, run.cfg, hostfile-<run>, <run>/ (checkpoints, metrics.csv), <run>.log.
# Exit status: 0 when every run finished; otherwise the failing run's status (the log is printed).
#
# Facts this relies on (measured on the CI machine): it needs root; mpirun must itself run in one of
# the namespaces; remote daemons start through rsh-agent.sh (`ip netns exec` + `unshare --uts`, see
# there); `--mca btl self,vader,tcp` with btl/oob_tcp_if_include set to the test subnet keeps every
# byte inside the namespaces made here; tc tbf works, netem is absent. The namespaces, their
# processes and the veth pair are removed on every exit path (EXIT/INT/TERM/HUP traps, and the
# --parent watcher); namespaces that a killed earlier run left behind are removed at start.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

trainer="${TRAINER_BIN:-}"
[ -z "$trainer" ] && [ -n "${TRAINER_BIN_DIR:-}" ] && trainer="$TRAINER_BIN_DIR/trainer"
[ -z "$trainer" ] && trainer="$repo/.build/release/trainer"
out=""; runs="multi single"; per_host=2; rate=""; model=resnet20; size=16; ntrain=128; ntest=32
batch=32; epochs=2; log_every=2; blas=""; limit=600; parent=""
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --trainer) trainer="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --ranks-per-host) per_host="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --train) ntrain="$2"; shift 2 ;;
    --test) ntest="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --log-every) log_every="$2"; shift 2 ;;
    --blas-threads) blas="$2"; shift 2 ;;
    --timeout) limit="$2"; shift 2 ;;
    --parent) parent="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "multihost: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# Exit 77 = "cannot run here" (the XCTest turns it into a skip with this line as the reason).
[ "$(id -u)" -eq 0 ] || { echo "multihost: skipped: needs root to create network namespaces" >&2; exit 77; }
for tool in ip unshare mpirun timeout; do
  command -v "$tool" >/dev/null || { echo "multihost: skipped: '$tool' not found on PATH" >&2; exit 77; }
done
[ -x "$trainer" ] || { echo "multihost: trainer binary '$trainer' not found (build it: swift build -c release --product trainer)" >&2; exit 2; }
trainer="$(cd "$(dirname "$trainer")" && pwd)/$(basename "$trainer")"

# Names carry this script's pid: concurrent runs never collide, and leftovers are recognisable.
tag="mh$$"
ns1="trainer-$tag-1"; ns2="trainer-$tag-2"
veth1="${tag}a"; veth2="${tag}b"
name1="mh-host1"; name2="mh-host2"
subnet="10.231.7.0/24"; addr1="10.231.7.1"; addr2="10.231.7.2"
created=(); keep_out=1; watcher=""; child=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null || true
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null || true
  for ns in "${created[@]}"; do
    # Every process in a namespace made here was started here (mpirun, orted, ranks).
    local pids; pids="$(ip netns pids "$ns" 2>/dev/null || true)"
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
  done
  for ns in "${created[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  # The veth pair dies with its namespaces; remove it explicitly in case one end got stranded.
  ip link del "$veth1" 2>/dev/null || true
  [ "$keep_out" -eq 0 ] && rm -rf "$out"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Namespaces an earlier run left behind when it was killed with SIGKILL (its pid is gone).
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^trainer-mh[0-9]+-[12]$' || true); do
  pid="${ns#trainer-mh}"; pid="${pid%-*}"
  if ! kill -0 "$pid" 2>/dev/null; then
    pids="$(ip netns pids "$ns" 2>/dev/null || true)"
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null && echo "multihost: removed namespace $ns left by an earlier run"
  fi
done

if [ -n "$parent" ]; then
  ( while kill -0 "$parent" 2>/dev/null; do sleep 1; done; kill -TERM $$ 2>/dev/null ) &
  watcher=$!
fi

if [ -z "$out" ]; then out="$(mktemp -d /tmp/trainer-multihost.XXXXXX)"; keep_out=0; fi
mkdir -p "$out"; out="$(cd "$out" && pwd)"

# --- the two hosts --------------------------------------------------------------------------
ip netns add "$ns1" || { echo "multihost: skipped: 'ip netns add' failed (no network namespaces here?)" >&2; exit 77; }
created+=("$ns1")
ip netns add "$ns2"; created+=("$ns2")
ip link add "$veth1" type veth peer name "$veth2"
ip link set "$veth1" netns "$ns1"
ip link set "$veth2" netns "$ns2"
ip -n "$ns1" addr add "$addr1/24" dev "$veth1"
ip -n "$ns2" addr add "$addr2/24" dev "$veth2"
for pair in "$ns1 $veth1" "$ns2 $veth2"; do
  set -- $pair
  ip -n "$1" link set lo up
  ip -n "$1" link set "$2" up
done
if [ -n "$rate" ]; then
  # Both directions, like a full-duplex link; burst ≥ rate / kernel HZ, latency bounds the queue.
  ip netns exec "$ns1" tc qdisc add dev "$veth1" root tbf rate "$rate" burst 256kb latency 50ms
  ip netns exec "$ns2" tc qdisc add dev "$veth2" root tbf rate "$rate" burst 256kb latency 50ms
fi
echo "multihost: hosts $name1 ($ns1, $addr1) and $name2 ($ns2, $addr2) on $subnet via veth, $([ -n "$rate" ] && echo "shaped to $rate" || echo unshaped)"

# Read by rsh-agent.sh in the remote-launch path.
export MULTIHOST_MAP="$addr1=$ns1=$name1 $addr2=$ns2=$name2"

# Runs a command "on" a namespace host: its network namespace and its own hostname.
on_host() { local ns="$1" name="$2"; shift 2; ip netns exec "$ns" unshare --uts /bin/sh -c 'hostname "$0" && exec "$@"' "$name" "$@"; }

if [ -n "$rate" ] && command -v python3 >/dev/null; then
  # Measure the shaped link once: 32 MB from host 1 to host 2.
  on_host "$ns2" "$name2" python3 -c '
import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("'"$addr2"'", 5999)); s.listen(1); s.settimeout(30); c, _ = s.accept(); n = 0
while n < 32 << 20:
    d = c.recv(1 << 20)
    if not d: break
    n += len(d)
c.sendall(b"k")' &
  server=$!
  sleep 0.5
  on_host "$ns1" "$name1" python3 -c '
import socket, time; c = socket.create_connection(("'"$addr2"'", 5999), timeout=30); b = bytes(1 << 20); t = time.time()
for _ in range(32): c.sendall(b)
c.recv(1); dt = time.time() - t; print("multihost: link measured %.0f Mbit/s (32 MB in %.3f s)" % (32 * 8 * 1.048576 / dt, dt))' || true
  wait "$server" || true
fi

# --- the run --------------------------------------------------------------------------------
ranks=$((2 * per_host))
cores="$(nproc)"
[ -z "$blas" ] && blas=$(( cores / ranks > 0 ? cores / ranks : 1 ))
"$trainer" data synthetic "$out/data.h5" --train "$ntrain" --test "$ntest" --size "$size" >/dev/null
cat > "$out/run.cfg" <<EOF
# Written by Tests/multihost/run.sh: a few steps of $model on synthetic data.
model: {name: $model, num_classes: 10}
data: {path: $out/data.h5, augment: {crop_padding: 2, flip: true}}
train: {epochs: $epochs, batch_size: $batch, seed: 11, blas_threads: $blas}
optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 1.0e-4}
checkpoint: {dir: $out/runs, every_epochs: 1, keep: 2}
log: {every_steps: $log_every}
EOF

agent="$here/rsh-agent.sh"
# Every byte stays on the test subnet (and loopback inside the namespaces).
# plm rsh: the remote launch path, even where the environment selects another (OMPI_MCA_plm=isolated).
net=(--mca plm rsh --mca plm_rsh_agent "$agent"
     --mca btl self,vader,tcp --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet")
[ "$ranks" -gt "$cores" ] && net+=(--mca mpi_yield_when_idle 1)
# The namespace hosts share this machine's cores: binding per "host" would stack both hosts'
# ranks on the same cores, so binding is off and BLAS threads are set above.
mpi=(mpirun --allow-run-as-root --bind-to none "${net[@]}")

status=0
for run in $runs; do
  case "$run" in
    multi|launch) printf '%s slots=%d\n%s slots=%d\n' "$addr1" "$per_host" "$addr2" "$per_host" > "$out/hostfile-$run" ;;
    single) printf '%s slots=%d\n' "$addr1" "$ranks" > "$out/hostfile-$run" ;;
    *) echo "multihost: unknown run '$run' (multi, single or launch)" >&2; exit 2 ;;
  esac
  case "$run" in
    multi) cmd=("${mpi[@]}" --hostfile "$out/hostfile-$run" -n "$ranks") ;;
    single) cmd=("${mpi[@]}" --hostfile "$out/hostfile-$run" -n "$ranks") ;;
    # The user's path: Launch/train picks the ranks and binding from the hostfile; the namespace
    # plumbing goes in through MPIRUN_ARGS as a cluster's network settings would.
    launch) cmd=(env "TRAINER_BIN=$trainer" "MPIRUN_ARGS=${net[*]}" "$repo/Launch/train" --hostfile "$out/hostfile-$run") ;;
  esac
  [ "$run" = launch ] || cmd+=("$trainer" train)
  rm -rf "${out:?}/$run"   # a fresh run: never resume from an earlier use of the same --out
  echo "multihost: run '$run': $ranks ranks, hostfile $(tr '\n' ' ' < "$out/hostfile-$run")"
  set +e
  timeout -k 10 "$limit" ip netns exec "$ns1" unshare --uts /bin/sh -c 'hostname "$0" && exec "$@"' "$name1" \
    "${cmd[@]}" "$out/run.cfg" --set "checkpoint.dir=$out/$run" > "$out/$run.log" 2>&1 &
  child=$!
  wait "$child"; rc=$?
  child=""
  set -e
  if [ $rc -ne 0 ]; then
    echo "multihost: run '$run' failed with status $rc; its output:" >&2
    cat "$out/$run.log" >&2
    status=$rc; break
  fi
  grep -E '^trainer: |comm wait' "$out/$run.log" | sed "s/^/  [$run] /"
done
exit $status
