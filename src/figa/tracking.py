"""Run numbers that are not training steps (curation counts) sent to the trackers users name with `--report_to`,
as `figa train` sends its training logs: tensorboard (event files under OUTPUT_DIR/runs/) and trackio (its local
store, `$TRACKIO_DIR`, offline)."""

from __future__ import annotations

import os

from .errors import FigaError

TRACKERS = ("none", "tensorboard", "trackio")


def check_trackers(report_to: list[str]) -> None:
    unknown = [t for t in report_to if t not in TRACKERS]
    if unknown:
        raise FigaError(f"--report_to {' '.join(unknown)}: figa curate logs to {', '.join(TRACKERS[1:])} (or none)")


def log_numbers(
    report_to: list[str],
    output_dir: str,
    project: str,
    run_name: str,
    numbers: dict[str, float],
    config: dict | None = None,
) -> None:
    """Log NUMBERS once (step 0) to each tracker of REPORT_TO."""
    check_trackers(report_to)
    if "tensorboard" in report_to:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=os.path.join(output_dir, "runs", run_name))
        for key, value in numbers.items():
            writer.add_scalar(key, value, 0)
        writer.close()
    if "trackio" in report_to:
        try:
            import trackio
        except ImportError:
            raise FigaError("--report_to trackio needs the trackio package: pip install trackio") from None
        trackio.init(project=project, name=run_name, config=config, embed=False)
        trackio.log(numbers, step=0)
        trackio.finish()
