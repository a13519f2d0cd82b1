#!/usr/bin/env bash
# Run on THIS (CPU) machine, in the repository root, before scripts/device_paper.sh runs on a
# GPU machine: downloads into .whl/ the wheels of what factordiff needs and the GPU machine
# lacks, for CPython 3.12 on manylinux x86_64, pinned to the versions installed here (pip
# list), and keeps .whl/ out of git (.git/info/exclude). Carry it there (run's carry:
# [".whl"]). The GPU machine's image (/work/.library/device/KINDS.md, "Python packages
# already there") has torch 2.11, numpy, scipy, scikit-learn, matplotlib, pandas, pyarrow,
# tqdm, safetensors 0.8.0, jinja2, huggingface-hub 1.33.0 (diffusers 0.42.1 needs >= 1.32),
# numba and llvmlite, requests, regex, pillow, filelock, wrapt; it lacks these six.
set -euo pipefail
cd "$(git rev-parse --show-toplevel 2>/dev/null || pwd)"

# factordiff's dependencies (pyproject.toml) missing there, and their own missing ones.
WHEELS=(
  diffusers==0.42.1  # needs huggingface-hub, safetensors, regex, requests: there
  umap-learn==0.5.12 pynndescent==0.7.0  # need numba, llvmlite, joblib: there
  ripser==0.6.15 persim==0.4.1 deprecated==1.3.1  # deprecated needs wrapt: there
)

rm -rf .whl  # only these: two versions of one package would stop the install there
mkdir -p .whl
for spec in "${WHEELS[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d .whl "$spec"
done

exclude="$(git rev-parse --git-path info/exclude 2>/dev/null || echo .git/info/exclude)"
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"

echo "$(ls .whl/*.whl | wc -l) wheels in .whl/, $(du -sh .whl | cut -f1) in all"
