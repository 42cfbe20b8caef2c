"""Standard benchmarks through lm-evaluation-harness (`figa eval --lm_eval TASKS`): its Python API,
`lm_eval.simple_evaluate`, on each model; lm-eval's own JSON is written beside figa's results."""

from __future__ import annotations

import json
import logging
import os

import torch

from ..errors import FigaError
from ..files import make_dir, write_json

logger = logging.getLogger(__name__)


def main_metric(task_results: dict) -> tuple[str, float] | None:
    """The first metric lm-eval reports for a task (e.g. `acc,none`), without its stderr."""
    for key, value in task_results.items():
        if "," in key and "_stderr" not in key and isinstance(value, (int, float)):
            return key.split(",")[0], float(value)
    return None


def _evaluate_one(
    path: str, tasks: list[str], include_path: str | None, limit: int | None, batch_size: int, trust_remote_code: bool
) -> dict:
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise FigaError("--lm_eval runs lm-evaluation-harness: pip install lm-eval") from None
    manager = TaskManager(include_path=include_path) if include_path else TaskManager()
    missing = [t for t in tasks if not manager.match_tasks([t])]
    if missing:
        raise FigaError(
            f"--lm_eval: unknown task(s) {', '.join(missing)} (lm-eval's task names, or yours with "
            "--lm_eval_include_path DIR)"
        )
    results = lm_eval.simple_evaluate(
        model="hf",
        model_args={"pretrained": path, "trust_remote_code": trust_remote_code},
        tasks=tasks,
        task_manager=manager,
        limit=limit,
        batch_size=batch_size,
        log_samples=False,
        device="cuda" if torch.cuda.is_available() else "cpu",
    )
    return json.loads(json.dumps(results, default=str))  # lm-eval's results hold numpy values and dtypes


def run_lm_eval(
    models: dict[str, str],
    tasks: list[str],
    output_dir: str,
    include_path: str | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    trust_remote_code: bool = False,
) -> dict:
    """{model name: {task: {"metric", "value"}}}; each model's full lm-eval results go to
    OUTPUT_DIR/lm_eval/NAME.json, which a rerun with the same tasks and limit reuses."""
    directory = os.path.join(output_dir, "lm_eval")
    make_dir(directory)
    summary: dict[str, dict] = {}
    for name, path in models.items():
        saved_path = os.path.join(directory, f"{name}.json")
        settings = {"model": path, "tasks": tasks, "limit": limit}
        saved = None
        if os.path.isfile(saved_path):
            with open(saved_path, encoding="utf-8") as handle:
                saved = json.load(handle)
        if not saved or saved.get("figa_settings") != settings:
            logger.info(f"lm-eval {', '.join(tasks)} on {name}")
            saved = {
                "figa_settings": settings,
                **_evaluate_one(path, tasks, include_path, limit, batch_size, trust_remote_code),
            }
            write_json(saved_path, saved)
        summary[name] = {}
        for task in saved["results"]:
            metric = main_metric(saved["results"][task])
            if metric:
                summary[name][task] = {"metric": metric[0], "value": metric[1]}
    return summary
