"""`figa demo --tune`: choose each method's settings on the validation prompts (`figa.compare.tuning`).

Every point of the grid of the methods trained (`figa.compare.METHODS`' grids, or `--grid`) is trained on the
demo's curated training pairs with the first seed and scored on the validation prompts (their own topics); the
point with the highest mean validation reward is chosen, the earlier one in the grid on a tie. The test prompts
are neither written nor read. OUTPUT_DIR/tune/tune.json holds every point's validation reward and the choice; a
rerun skips what it holds.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..backends.fingerprints import spec_key
from ..compare.tuning import EpochSnapshots, run_grid, trainings, tune_table, validation_rewards
from ..errors import FigaError
from .config import TASK, DemoConfig
from .run import _decoding, _step, budget, curated_pairs, evaluation_dtype, pairs_in
from .settings import GRID, load_grid

__all__ = ["EpochSnapshots", "tune", "tune_table"]
logger = logging.getLogger(__name__)


def _context(config: DemoConfig, model: str, data: str, n_validation: int) -> dict[str, Any]:
    """What every row of a tune.json depends on besides its own settings."""
    return {
        "model": model,
        "reward": spec_key(f"{TASK}:reward"),
        "pairs": pairs_in(data),
        "data": data,
        "validation_prompts": n_validation,
        "seed": config.seed,
        "train_batch_size": config.train_batch_size,
        "max_new_tokens": config.max_new_tokens,
        "repetition_penalty": config.repetition_penalty,
        **({"bf16": True} if config.bf16() else {}),  # float32 tunings before --precision have no such key
    }


def tune(config: DemoConfig) -> str:
    """Run the grid on the validation prompts; returns the path of tune.json."""
    _, n_validation, _ = config.sizes()
    methods = config.tuned_methods()
    grid = load_grid(config.grid) if config.grid else {m: GRID[m] for m in methods if m in GRID}
    if not grid:
        raise FigaError(f"--tune: none of {', '.join(methods)} has settings to choose ({', '.join(GRID)} have)")
    points, n_trainings = sum(map(len, grid.values())), sum(len(trainings(m, p)) for m, p in grid.items())
    logger.info(
        f"--tune: {points} grid points ({n_trainings} trainings) of {', '.join(grid)} on {n_validation} validation "
        "prompts"
    )
    model, prompts, curation, _ = curated_pairs(config, "validation")
    data = os.path.join(curation.output_dir, "train.jsonl")
    out = os.path.join(config.output_dir, "tune")
    decoding = {**_decoding(config), "dtype": evaluation_dtype(config)}

    def score(models: dict[str, str], directory: str) -> dict[str, dict]:
        return validation_rewards(f"{TASK}:reward", prompts["validation"], models, directory, decoding)

    context = _context(config, model, data, n_validation)
    run_grid(grid, model, data, config.seed, budget(config), score, out, context, lambda text: _step(5, text))
    _step(6, "chosen on the validation prompts")
    return os.path.join(out, "tune.json")
