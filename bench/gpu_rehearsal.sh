#!/usr/bin/env bash
# The whole identity flow on a random-weight model, each phase's peak memory measured beside
# swiftkit's estimate: ready for the first machine with a GPU, and run at a small shape on a
# CPU by CI (tests/test_rehearsal.py) so that it cannot rot.
#
#   bash bench/gpu_rehearsal.sh                 # Qwen2.5-7B-Instruct's exact shape, preset 24gb
#   SHAPE=small bash bench/gpu_rehearsal.sh     # swiftkit's tiny model, preset cpu (~1 min CPU)
#
# Env: SHAPE (7b | small, default 7b), OUT (default ./rehearsal-SHAPE-DATE), STEPS (default 5).
# Phases: build (random weights, no download), train (`swiftkit run --no-verify`: STEPS
# steps), verify (`swiftkit verify`), export (`swiftkit export --merge`). Each phase records
# in OUT/phases/PHASE.json: torch.cuda.max_memory_allocated/reserved from inside every Python
# process (bench/peakhook/sitecustomize.py), the peak of `nvidia-smi` memory.used sampled every
# 200 ms, the process tree's peak memory, wall and CPU seconds, the exit status. OUT/summary.md
# and summary.json put the estimate beside each phase. A random model fails verify's identity
# threshold: verify's exit status is recorded, not fatal.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
SHAPE="${SHAPE:-7b}"
STEPS="${STEPS:-5}"
OUT="${OUT:-$PWD/rehearsal-$SHAPE-$(date +%Y%m%d-%H%M%S)}"
PY="${PYTHON:-python}"
case "$SHAPE" in
  7b) spec="$here/qwen2.5-7b-instruct.json"; preset=24gb ;;
  small) spec=""; preset=cpu ;;
  *) echo "SHAPE must be 7b or small, not '$SHAPE'" >&2; exit 2 ;;
esac
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
cd "$root"   # so `python -m swiftkit` is this checkout's swiftkit
model="$OUT/model"
echo "rehearsal: shape $SHAPE, preset $preset, $STEPS steps, into $OUT"

"$PY" bench/rehearsal.py phase "$OUT" build -- "$PY" -m swiftkit.tinymodel "$model" $spec
recipe="$("$PY" bench/rehearsal.py recipe "$OUT" "$model" "$preset" "$STEPS")"
"$PY" bench/rehearsal.py phase "$OUT" train -- "$PY" -m swiftkit run --no-verify "$recipe"
run_dir="$(ls -d "$OUT"/runs/*/ | head -n 1)"
"$PY" bench/rehearsal.py phase "$OUT" verify -- "$PY" -m swiftkit verify "$run_dir" \
  || echo "verify exited $? (expected for random weights: the identity is not learnt in $STEPS steps)"
"$PY" bench/rehearsal.py phase "$OUT" export -- \
  "$PY" -m swiftkit export --merge "$run_dir" --to "$OUT/merged"
"$PY" bench/rehearsal.py summary "$OUT"
echo "summary: $OUT/summary.md"
