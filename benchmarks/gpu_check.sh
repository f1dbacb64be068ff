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

# the features as the DAG maps them: one process per shard, then the assembly; the same bytes as
# the one-process run above (same device and batch), and the time of each step
cp -rL "$run/features" "$logs/features-one-process"  # -L: the published name is a link to its version
start=$(date +%s%N)
python3 -m kitrain features --run-dir "$run" --device cuda --plan-shards > "$logs/shards.txt" 2>> "$logs/chain.log"
for shard in $(cat "$logs/shards.txt"); do
  s0=$(date +%s%N)
  python3 -m kitrain features --run-dir "$run" --device cuda --shard "$shard" >> "$logs/chain.log" 2>&1
  echo "shard $shard: $(( ($(date +%s%N) - s0) / 1000000 )) ms (process start included)" >> "$logs/gpu.txt"
done
python3 -m kitrain features --run-dir "$run" --device cuda --assemble >> "$logs/chain.log" 2>&1
echo "mapped features, $(wc -l < "$logs/shards.txt") shards: $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee -a "$logs/gpu.txt"
if diff -r "$logs/features-one-process" "$run/features" > /dev/null; then
  echo "mapped features equal the one-process run byte for byte" | tee -a "$logs/gpu.txt"
else
  echo "MAPPED FEATURES DIFFER from the one-process run" | tee -a "$logs/gpu.txt"
fi

# --nproc 1: the same fine-tuning under torchrun too (the target: within 5 % of one process)
python3 benchmarks/finetune.py --run-dir "$run" --target inserts --size base --steps 300 --nproc 1 \
  > "$logs/finetune.log" 2>&1
tail -n 1 "$logs/finetune.log" | tee -a "$logs/gpu.txt"
python3 benchmarks/features.py --corpus "$run/prepared/train" --size base --limit 4000 \
  > "$logs/features.log" 2>&1
tail -n 1 "$logs/features.log" | tee -a "$logs/gpu.txt"
