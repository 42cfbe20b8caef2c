"""`accelerate launch` with the shipped DDP config (`python -m figa.accelerate_configs ddp`, a MULTI_GPU config) and
`--num_processes 2` on a CPU-only machine: DDP over gloo gives the step a single process gives. (accelerate 1.x's
`--cpu --num_processes 2` starts one process, not two.)"""

import os
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from figa.accelerate_configs import config_path
from figa.cli import main
from figa.testing import make_spa_records

from .conftest import write_jsonl

STEP = [
    "--max_steps",
    "1",
    "--optim",
    "sgd",
    "--learning_rate",
    "1.0",
    "--lr_scheduler_type",
    "constant",
    "--max_grad_norm",
    "0",
    "--logging_steps",
    "1",
    "--save_strategy",
    "no",
    "--report_to",
    "none",
    "--seed",
    "5",
    "--tau",
    "3.0",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "loss",
    [[], ["--prob_scale"], ["--anchor_tau", "0.0"], ["--objective", "preference"], ["--chunked_loss", "always"]],
    ids=["figa", "prob_scale", "anchor", "preference", "chunked"],
)
def test_ddp_two_processes_match_one_process(loss, tiny_model_dir, tmp_path):
    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable))
    data = write_jsonl(tmp_path / "spa.jsonl", make_spa_records(8, seed=2))
    common = ["train", "--model_name_or_path", tiny_model_dir, "--data", data, *STEP, *loss]
    result = subprocess.run(
        [
            accelerate,
            "launch",
            "--config_file",
            config_path("ddp"),
            "--num_processes",
            "2",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "figa",
            *common,
            "--output_dir",
            str(tmp_path / "ddp"),
            "--per_device_train_batch_size",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("8 records kept of 8 read") == 1  # one report, from the main process
    assert main([*common, "--output_dir", str(tmp_path / "single"), "--per_device_train_batch_size", "4"]) == 0

    ddp = load_file(tmp_path / "ddp" / "model.safetensors")
    single = load_file(tmp_path / "single" / "model.safetensors")
    for name in single:
        torch.testing.assert_close(ddp[name], single[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_shipped_accelerate_configs_parse_and_unknown_names_are_clear_errors():
    import yaml

    from figa.errors import FigaError

    kinds = {}
    for name in ("ddp", "zero2", "zero3", "fsdp"):
        with open(config_path(name)) as handle:
            kinds[name] = yaml.safe_load(handle)["distributed_type"]
    assert kinds == {"ddp": "MULTI_GPU", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED", "fsdp": "FSDP"}
    with pytest.raises(FigaError, match="unknown accelerate config 'zero9'; choose one of ddp, zero2, zero3, fsdp"):
        config_path("zero9")
    printed = subprocess.run([sys.executable, "-m", "figa.accelerate_configs", "fsdp"], capture_output=True, text=True)
    assert printed.returncode == 0 and printed.stdout.strip() == config_path("fsdp")
