#!/usr/bin/env bash
# One GPU check of the text-model stages: the CLI chain (tiny model, four fine-tunings, features)
# on CUDA, then the fine-tuning and scoring benchmarks at BERT-base size against the original's
# settings. Needs a prepared run directory (demo data) as $1; writes logs to $2 (default: ./gpu-logs).
#   bash benchmarks/gpu_check.sh RUN_DIR [LOG_DIR]
set -euo pipefail
run_src=$1
logs=${2:-gpu-logs}
mkdir -p "$logs"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$logs/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'bf16', torch.cuda.is_bf16_supported())" | tee -a "$logs/gpu.txt"

run=$(mktemp -d)/run
mkdir -p "$run"
cp -r "$run_src/prepared" "$run/"
start=$(date +%s)
python3 -m kitrain tiny-model --out "$run/base-model" --corpus "$run/prepared/train" > "$logs/chain.log" 2>&1
for target in inserts removes changes title; do
  python3 -m kitrain finetune --run-dir "$run" --target "$target" --base-model "$run/base-model" \
    --max-steps 40 --save-steps 20 --max-length 128 >> "$logs/chain.log" 2>&1
done
python3 -m kitrain features --run-dir "$run" --device cuda >> "$logs/chain.log" 2>&1
echo "cli chain on cuda: $(( $(date +%s) - start )) s" | tee -a "$logs/gpu.txt"
grep -h '"dtype"\|"device"' "$run"/mlm/*/kitrain_finetune.json | sort | uniq -c | tee -a "$logs/gpu.txt"

python3 benchmarks/finetune.py --run-dir "$run" --target inserts --size base --steps 300 \
  > "$logs/finetune.log" 2>&1
tail -n 1 "$logs/finetune.log" | tee -a "$logs/gpu.txt"
python3 benchmarks/features.py --corpus "$run/prepared/train" --size base --limit 4000 \
  > "$logs/features.log" 2>&1
tail -n 1 "$logs/features.log" | tee -a "$logs/gpu.txt"
