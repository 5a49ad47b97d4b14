#!/usr/bin/env bash
# Stage 5 of bench/train_default_model.py ("general model") on the lent GPU machine, in one go.
# Prepare here (bench/out/ is git-ignored; nothing held out is packed):
#   PYTHONPATH=server .venv/bin/python bench/train_default_model.py --pack-data bench/out/gpu/frames.npz
#   .venv/bin/python -m pip download --no-deps segment_anything==1.0 -d bench/out/gpu
# Run there with the device tool: command "bash bench/gpu_stage5.sh", carry ["bench/out/gpu"], timeout_s 600.
# MINUTES (default 6) is the training budget; the whole run takes about MINUTES + 2.
# Back here: cat <files_at>/best.compact.pt.part-* > server/sambridge_server/data/default_model.pt
# ($OUT files are at most 16 MiB, so the ~21 MiB compact checkpoint comes back in two parts.)
set -o pipefail
OUT=${OUT:-/tmp/stage5_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    bench/out/gpu/*.whl || exit 1
export PYTHONPATH=/tmp/site:server PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 bench/train_default_model.py --stage 5 --device cuda --data bench/out/gpu/frames.npz \
    --init server/sambridge_server/data/default_model.pt --minutes "${MINUTES:-6}" --threads 8 \
    --out /tmp/stage5 --export /tmp/stage5/compact "$@" 2>&1 | tee "$OUT/stage5.log"
status=$?
cp /tmp/stage5/curves.csv /tmp/stage5/config.json "$OUT/" 2>/dev/null
split -b 15M /tmp/stage5/compact/best.compact.pt "$OUT/best.compact.pt.part-" 2>/dev/null
ls -la "$OUT"
exit $status
