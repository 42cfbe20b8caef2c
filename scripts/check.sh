#!/usr/bin/env bash
# The checks CI runs before the tests: ruff (lint and format, line length 119 as TRL), mypy over src/, deptry (a
# module imported anywhere but declared nowhere in pyproject.toml fails), and the documentation site built with
# --strict (a broken link or a missing page fails).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv=${FIGA_VENV:-.venv}
"$venv"/bin/ruff check src tests benchmarks docs/hooks
"$venv"/bin/ruff format --check src tests benchmarks docs/hooks
"$venv"/bin/mypy
"$venv"/bin/deptry src tests benchmarks experiments
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
NO_MKDOCS_2_WARNING=1 "$venv"/bin/mkdocs build --strict --quiet --site-dir "$site"
echo "checks passed: ruff, ruff format, mypy, deptry, mkdocs --strict"
