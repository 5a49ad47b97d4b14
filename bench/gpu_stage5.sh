#!/usr/bin/env bash
# Stage 5 of bench/train_default_model.py ("general model") on the lent GPU machine, in one go.
# Prepare here (bench/out/ is git-ignored; nothing held out is packed):
#   PYTHONPATH=server .venv/bin/python bench/train_default_model.py --pack-data bench/out/gpu/frames.npz
#   .venv/bin/python -m pip download --no-deps segment_anything==1.0 -d bench/out/gpu
# Run there with the device tool: command "MINUTES=6 bash bench/gpu_stage5.sh", carry ["bench/out/gpu"],
# timeout_s 600. MINUTES is the training budget; the whole command takes about MINUTES + 1.5 min.
# Training is cut at MINUTES + 2.5 min whatever happens, and the best checkpoint so far is still exported.
# Back here: cat <files_at>/best.compact.pt.part-* > server/sambridge_server/data/default_model.pt
# ($OUT files are at most 16 MiB, so the ~21 MiB compact checkpoint comes back in two parts.)
# Extra arguments go to the training script (e.g. --whole-image).
set -o pipefail
OUT=${OUT:-/tmp/stage5_out}
MINUTES=${MINUTES:-6}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    bench/out/gpu/*.whl || exit 1
export PYTHONPATH=/tmp/site:server PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout $(( MINUTES * 60 + 150 )) python3 bench/train_default_model.py --stage 5 --device cuda \
    --data bench/out/gpu/frames.npz --init server/sambridge_server/data/default_model.pt \
    --minutes "$MINUTES" --threads 8 --out /tmp/stage5 "$@" 2>&1 | tee "$OUT/stage5.log"
status=$?
cp /tmp/stage5/curves.csv /tmp/stage5/config.json "$OUT/" 2>/dev/null
python3 -c "import sys; sys.path.insert(0, 'bench'); from train_default_model import export_compact; \
export_compact('/tmp/stage5/best.pt', '/tmp/stage5/best.compact.pt')" \
  && split -b 15M /tmp/stage5/best.compact.pt "$OUT/best.compact.pt.part-"
ls -la "$OUT"
exit $status
