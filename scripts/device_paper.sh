#!/usr/bin/env bash
# The one prepared command for a GPU machine (nvidia-h100-x1 or nvidia-h200): Experiment 1
# (seeds 0, 1, 2) and Experiment 2's main comparison at the paper's scale, trained and
# analysed there, and one archive of what a reader needs (docs/fidelity.md, "The paper's
# scale on one GPU"). The checkpoints stay there.
#
# Here, once: bash scripts/device_wheels.sh (the six wheels the machine lacks, into .whl/).
# Then one call of the device tool, which runs this in the repository root with $OUT set:
#   run(command="bash scripts/device_paper.sh", carry=[".whl"], timeout_s=600)
# Back in $OUT, 4 files (at most 8 come back): gpu-paper.tar.gz (summaries, reports, result
# tables, figures, the sensitivity map, each run's metrics.jsonl), timings.json (seconds per
# phase, GPU, versions), log.txt (the whole output) and gpu.csv (GPU use every 15 s).
#
# GPU_PAPER_SECONDS (default 540) stops the command with SIGINT before the call's 600-s limit:
# it then still writes the archive of what exists (timings.json says "interrupted"), and a
# second call on the still-warm machine resumes the runs from their last checkpoints.
set -uo pipefail
: "${OUT:?OUT must name the folder whose files come back}"
LIMIT="${GPU_PAPER_SECONDS:-540}"
WORK=/tmp/gpu-paper
LOG="$OUT/log.txt"

WHEELS="diffusers umap_learn pynndescent ripser persim deprecated"  # see device_wheels.sh
for name in $WHEELS; do
  if ! compgen -G ".whl/${name}-*.whl" > /dev/null; then
    echo "error: .whl/${name}-*.whl is missing; run bash scripts/device_wheels.sh here, then" \
      "call with carry [\".whl\"]" | tee "$LOG" >&2
    exit 2
  fi
done
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl 2>&1 | tee "$LOG" || exit 2
export PYTHONPATH="/tmp/site:$PWD/src"
# Every import the analysis needs, before any GPU time goes to training.
python3 -c "import factordiff.cli, diffusers, umap, ripser, persim, torch
print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$LOG" \
  || exit 2

nvidia-smi --query-gpu=timestamp,name,utilization.gpu,memory.used,memory.total \
  --format=csv -l 15 > "$OUT/gpu.csv" 2>&1 &
SMI=$!

# timeout signals its whole process group: the training and analysis workers stop too.
PYTHONUNBUFFERED=1 timeout -s INT -k 30 "$LIMIT" python3 -m factordiff.cli gpu-paper \
  --scale paper --device cuda --out "$WORK" --archive "$OUT/gpu-paper.tar.gz" 2>&1 \
  | tee -a "$LOG"
rc=$?

kill "$SMI" 2> /dev/null
cp "$WORK/timings.json" "$OUT/timings.json" 2> /dev/null
ls -la "$OUT" | tee -a "$LOG"
exit "$rc"
