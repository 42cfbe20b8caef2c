"""Model and dataset cards (huggingface_hub's `ModelCard` / `DatasetCard`, as TRL writes them) and pushes to the
Hugging Face hub. Without network, a push fails before any work starts, with one line that says why."""

from __future__ import annotations

import os

from .errors import FigaError
from .redaction import register_secret
from .results import CurateStats

CITATION = """@article{guo2023beyond,
  title   = {Beyond Imitation: Leveraging Fine-grained Quality Signals for Alignment},
  author  = {Guo, Geyang and Zhao, Ranchi and Tang, Tianyi and Zhao, Wayne Xin and Wen, Ji-Rong},
  journal = {arXiv preprint arXiv:2311.04072},
  year    = {2023}
}"""
TAGS = ["figa", "trl", "alignment"]
TRAINING_FIELDS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "lr_scheduler_type",
    "warmup_steps",
    "weight_decay",
    "seed",
    "max_length",
    "bf16",
)


def token_to_environment(config) -> None:
    """Move `--hub_token` out of CONFIG, which the trainer saves (pickled) as training_args.bin in every checkpoint
    and in the model directory that a push uploads, into the environment variable HF_TOKEN, where huggingface_hub
    reads it; it is masked in every output from then on."""
    token = getattr(config, "hub_token", None)
    if token:
        register_secret(token)
        os.environ["HF_TOKEN"] = token
        config.hub_token = None


def _one_line(error: Exception) -> str:
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:200]}"


def check_hub_access(flag: str) -> None:
    """Fail fast, in one line, when the hub cannot be reached (offline mode, no network, no token)."""
    try:
        from huggingface_hub import HfApi

        HfApi().whoami()
    except Exception as error:  # offline mode, a connection error, a missing or rejected token: all say the same
        raise FigaError(
            f"{flag}: cannot reach the Hugging Face hub ({_one_line(error)}). Check the network and "
            "`hf auth login`, or drop the flag."
        ) from None


def _bullets(values: dict) -> str:
    return "\n".join(f"- `{key}`: {value}" for key, value in values.items())


def model_card(
    base_model: str,
    data: list[dict],
    loss: dict,
    training_args: dict,
    metrics: dict,
    name: str,
    recipe: str | None = None,
):
    """The README.md of a model trained by `figa train`."""
    from huggingface_hub import ModelCard, ModelCardData

    sources = [d["source"] for d in data]
    card_data = ModelCardData(
        base_model=None if os.path.exists(base_model) else base_model,  # hub ids only
        library_name="transformers",
        tags=TAGS + [loss.get("method", "figa")],
        model_name=name,
        datasets=[s for s in sources if not os.path.exists(s)] or None,
    )
    method = loss.get("method", "figa")
    recipe_flag = f" --recipe {recipe}" if recipe else ""  # the recipe's settings, with the flags given: below
    text = f"""---
{card_data.to_yaml()}
---

# {name}

Trained with [figa](https://arxiv.org/abs/2311.04072) `figa train --method {method}{recipe_flag}` from `{base_model}`.

## Data

{_bullets({d["source"]: f"{d['kept']} pairs kept of {d['read']} read, {len(d['skipped'])} skipped" for d in data})}

## Loss

{_bullets(loss)}

## Training arguments

{_bullets(training_args)}

## Final metrics

{_bullets({k: round(v, 6) if isinstance(v, float) else v for k, v in metrics.items()})}

## Citation

```bibtex
{CITATION}
```
"""
    return ModelCard(text)


def dataset_card(repo: str, settings: dict, stats: CurateStats):
    """The README.md of an SPA data set pushed by `figa curate --push_to_hub`."""
    from huggingface_hub import DatasetCard, DatasetCardData

    counts = stats["counts"]
    card_data = DatasetCardData(tags=TAGS + ["spa"], pretty_name=repo.split("/")[-1])
    keys = (
        "policy",
        "policy_backend",
        "reward",
        "reviser",
        "eta1",
        "eta2",
        "eta3",
        "min_gain",
        "max_edit_ratio",
        "max_new_tokens",
        "temperature",
        "keep_truncated",
        "config_hash",
    )
    return DatasetCard(f"""---
{card_data.to_yaml()}
---

# {repo}

SPA pairs (prompt, the policy's `original_output`, its minimal revision `revised_output`) curated by
`figa curate`: {counts["train"]} pairs from {counts["read"]} prompts; {counts["rejected"]} rejected.

## Curation settings

{_bullets({k: settings.get(k) for k in keys})}

## Rejections by stage

{_bullets(counts["rejected_by_stage"] or {"none": 0})}

`stats.json` holds every count and the reward and edit-ratio distributions.

## Citation

```bibtex
{CITATION}
```
""")


def push_dataset(output_dir: str, repo: str, private: bool = False) -> str:
    """Upload train.jsonl, rejected.jsonl, stats.json, curate_config.json and the card (README.md) to the dataset
    REPO."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo, repo_type="dataset", exist_ok=True, private=private)
        api.upload_folder(
            repo_id=repo,
            repo_type="dataset",
            folder_path=output_dir,
            allow_patterns=["train.jsonl", "rejected.jsonl", "stats.json", "curate_config.json", "README.md"],
        )
    except Exception as error:
        raise FigaError(
            f"--push_to_hub {repo}: the upload failed ({_one_line(error)}); the files are in {output_dir}"
        ) from None
    return f"https://huggingface.co/datasets/{repo}"


def push_model(output_dir: str, repo: str, private: bool = False) -> str:
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo, exist_ok=True, private=private)
        api.upload_folder(repo_id=repo, folder_path=output_dir, ignore_patterns=["checkpoint-*", "*.tmp"])
    except Exception as error:
        raise FigaError(
            f"--push_to_hub: the upload to {repo} failed ({_one_line(error)}); the model is saved in {output_dir}"
        ) from None
    return f"https://huggingface.co/{repo}"
