#!/usr/bin/env bash
# The GPU rows of docs/benchmarks.md in one run:
#   bash benchmarks/gpu_rows.sh OUT_DIR [TABLE ...]     # TABLE: step_bf16 vocab128k_bf16 packing_sdpa_bf16 packing_flex_bf16
# On one H200 (2026-12-01): step_bf16 201 s, vocab128k_bf16 64 s, packing_sdpa_bf16 61 s, packing_flex_bf16 over
# 150 s (its kernels compile; it had not finished when the run was stopped). Without TABLE, all of them.
# Each table is its own command, so one that fails leaves the others; every table's JSON and log land in OUT_DIR.
# The machine needs torch with CUDA, transformers, accelerate, peft, datasets, trl and rapidfuzz (pip install -e .).
set -u
out=${1:?usage: bash benchmarks/gpu_rows.sh OUT_DIR [TABLE ...]}
shift
tables=("$@")
for table in "${tables[@]}"; do
    case $table in
        step_bf16 | vocab128k_bf16 | packing_sdpa_bf16 | packing_flex_bf16) ;;
        *) echo "unknown table '$table': step_bf16, vocab128k_bf16, packing_sdpa_bf16 or packing_flex_bf16" >&2 && exit 2 ;;
    esac
done
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
bench=benchmarks/bench_train_step.py

run() {  # NAME ARGS...: one table, timed, its output in OUT_DIR/NAME.log and its rows in OUT_DIR/NAME.json
    local name=$1
    shift
    if ((${#tables[@]})) && [[ " ${tables[*]} " != *" $name "* ]]; then
        return
    fi
    echo "== $name: $* ($(date +%T))"
    local start=$SECONDS
    python3 "$@" --json "$out/$name.json" >"$out/$name.log" 2>&1
    echo "   exit $? after $((SECONDS - start)) s"
    grep -v -e '^running ' -e 'Warning' "$out/$name.log" | tail -n 12
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c 'import torch, transformers, trl, datasets; print("torch", torch.__version__, "transformers",
transformers.__version__, "trl", trl.__version__, "datasets", datasets.__version__)'
    git rev-parse --short HEAD 2>/dev/null || true
} 2>&1 | tee "$out/machine.txt"

# The training step of every method and the naive reimplementation (target: naive / figa >= 10x).
run step_bf16 $bench --bf16 --layers 8 --hidden 1024 --pairs 8 --steps 10
# A 128k vocabulary, 4k-token rows, every response token weighted: the chunked loss against the full logits and TRL.
run vocab128k_bf16 $bench --bf16 --vocab 128256 --layers 2 --hidden 1024 --pairs 2 --prompt_words 64 \
    --response_words 4000 --max_length 4096 --steps 5 --variants sft_revised sft_revised_unchunked trl_sft
# Packed against padded rows on long-tailed lengths, under sdpa (a dense block mask) and flex attention (block-sparse).
run packing_sdpa_bf16 $bench --bf16 --layers 8 --hidden 1024 --skewed_lengths --pairs 16 --response_words 1024 \
    --max_length 2048 --steps 8 --variants figa figa_packed sft_revised --attn_implementation sdpa
run packing_flex_bf16 $bench --bf16 --layers 8 --hidden 1024 --skewed_lengths --pairs 16 --response_words 1024 \
    --max_length 2048 --steps 8 --variants figa figa_packed --attn_implementation flex_attention
echo "== done ($(date +%T))"
