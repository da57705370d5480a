#!/usr/bin/env bash
# Builds sk-tracer as shipped (`pgo/build.sh`: the `dist` profile with the execution profile) and the two floor programs (package real-cluster-floors) in release, then runs the side-by-side benchmark
# (`bench`) or the fault drills (`drills`) against a real control plane.
#
#   benches/real_cluster/run.sh bench  [bench.py options]    e.g. --n 1000 --runs 2
#   benches/real_cluster/run.sh drills [drills.py options]   e.g. --drill A --drill B
#
# Where things are (environment, with the defaults of a control plane built as in
# ../shared/realk8s): REALK8S_SCRIPTS (start.sh, stop.sh), KUBECONFIG, SIMKUBE_TRACER
# (SimKube's sk-tracer; left out if absent), REALK8S_LOCK (the lock every run holds from start
# to stop, shared with anyone else using the control plane).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
what=${1:?bench or drills}; shift
scripts=${REALK8S_SCRIPTS:-/work/shared/realk8s}
kubeconfig=${KUBECONFIG:-$HOME/realk8s/kubeconfig}
simkube=${SIMKUBE_TRACER:-$HOME/peer-sk/target/release/sk-tracer}
target=${CARGO_TARGET_DIR:-target}

pgo/build.sh --quiet
cargo build --release --quiet -p real-cluster-floors
common=(--kubeconfig "$kubeconfig" --reset "$scripts/start.sh" --stop "$scripts/stop.sh" --lock "${REALK8S_LOCK:-/tmp/realk8s.lock}"
  --ours "$target/dist/sk-tracer")
[ -x "$simkube" ] && common+=(--simkube "$simkube")
case $what in
  bench) exec python3 "$here/bench.py" "${common[@]}" --kube-floor "$target/release/kube_floor" --lean-floor "$target/release/lean_floor" "$@" ;;
  drills) exec python3 "$here/drills.py" "${common[@]}" "$@" ;;
  *) echo "bench or drills, not $what" >&2; exit 2 ;;
esac
