import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from figa import FIGAConfig, FIGATrainer
from figa.testing import make_spa_records


def one_sgd_step(model_dir, tmp_path, batch_size, accumulation, loss=None):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    args = FIGAConfig(
        output_dir=str(tmp_path / f"out-{batch_size}-{accumulation}-{sorted((loss or {}).items())}"),
        **(loss or {}),
        report_to="none",
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        max_steps=1,
        optim="sgd",
        learning_rate=1.0,
        lr_scheduler_type="constant",
        max_grad_norm=0.0,
        logging_steps=1,
        save_strategy="no",
        seed=3,
        tau=3.0,
    )
    trainer = FIGATrainer(
        model=model, args=args, train_dataset=make_spa_records(8, seed=1), processing_class=tokenizer
    )
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    logged = trainer.state.log_history[0]
    update = {n: before[n] - p.detach() for n, p in trainer.model.named_parameters()}  # = lr * gradient
    return logged, update


@pytest.mark.parametrize(
    "loss",
    [
        {},
        {"prob_scale": True},
        {"anchor_tau": 0.0},
        {"objective": "preference", "gamma": 0.3},
        {"chunked_loss": "always", "chunk_rows": 5},
    ],
    ids=["figa", "prob_scale", "anchor", "preference", "chunked"],
)
def test_one_step_is_the_same_whole_or_accumulated(loss, tiny_model_dir, tmp_path):
    lengths = [len(r["original_output"]) + len(r["revised_output"]) for r in make_spa_records(8, seed=1)]
    assert len(set(lengths)) > 2  # micro-batches really have unequal token counts
    whole_log, whole = one_sgd_step(tiny_model_dir, tmp_path, 4, 1, loss)
    for batch_size, accumulation in ((1, 4), (2, 2)):
        step_log, update = one_sgd_step(tiny_model_dir, tmp_path, batch_size, accumulation, loss)
        assert step_log["loss"] == pytest.approx(whole_log["loss"], rel=1e-4)
        if "anchor_tau" in (loss or {}):  # at the first step the policy is its reference: every pushed token passes
            assert step_log["gate_pass_fraction"] == whole_log["gate_pass_fraction"] == 1.0
        for name, value in whole.items():
            torch.testing.assert_close(update[name], value, rtol=1e-4, atol=1e-6, msg=name)
    assert any(v.abs().sum() > 0 for v in whole.values())
