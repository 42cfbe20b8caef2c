#!/usr/bin/env bash
# The fair comparison on the demo task (docs/experiments.md): each method's settings chosen on the validation
# prompts, the large preset (192 test prompts, three seeds, figa_paper) at those settings, and IFBench on the
# seed-0 model of every method; then the token-level objectives beyond the paper (figa_preference, figa_anchor,
# figa_dft) tuned and run the same way, beside the same models.
#   bash experiments/demo_fair.sh [OUT_DIR] [IFBENCH_MAX_NEW_TOKENS]
# Every step resumes: trainings, generations and scores are reused once finished, so a rerun goes on where it
# stopped. Outputs stay outside the repository (default ~/.cache/figa-experiments/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$HOME/.cache/figa-experiments/demo}
tokens=${2:-256}
figa=.venv/bin/figa
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$out"
stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }
core=(sft dpo apo_zero figa figa_paper)
beyond=(figa_preference figa_anchor figa_dft)
stamp "1/5 figa demo --tune: the grid on the validation prompts"
$figa demo --tune --output_dir "$out"
stamp "2/5 figa demo --size large at the chosen settings"
$figa demo --size large --settings "$out/tune/tune.json" --methods "${core[@]}" --output_dir "$out"
cp "$out/report.json" "$out/report-fair.json"
stamp "3/5 IFBench on base and every method's seed-0 model"
base=$(.venv/bin/python -c "from figa.demo.model import smollm2_checkpoint; print(smollm2_checkpoint())")
# the models generate as in the demo's own evaluation: in bfloat16 where the machine computes it natively
dtype=$(.venv/bin/python -c "from figa.modeling import native_bf16; print('bfloat16' if native_bf16() else 'auto')")
methods=("${core[@]}")
models=("$base")
for method in "${methods[@]}"; do models+=("$out/models/$method-s0"); done
$figa eval --model "${models[@]}" --names base "${methods[@]}" \
  --prompts "$(.venv/bin/python -m figa.evaluation.ifbench_report --prompts)" \
  --reward python:figa.evaluation.ifbench:reward --max_new_tokens "$tokens" --dtype "$dtype" --output_dir "$out/ifbench"
.venv/bin/python -m figa.evaluation.ifbench_report "$out/ifbench/results.json"
stamp "4/5 figa demo --tune for the objectives beyond the paper"
$figa demo --tune --methods "${beyond[@]}" --output_dir "$out"
stamp "5/5 figa demo --size large with them beside the others (finished trainings are reused)"
$figa demo --size large --settings "$out/tune/tune.json" --methods "${core[@]}" "${beyond[@]}" --output_dir "$out"
stamp "done"
