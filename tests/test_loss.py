import json
import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from figa import FIGAConfig, FIGATrainer, figa_loss
from figa.edits import ADD, DEL, KEEP, SUB
from figa.errors import FigaError
from figa.loss import original_weights, revised_weights, token_nll
from figa.testing import make_spa_records


def logits_giving(probabilities, targets, vocab=4):
    """Logit rows whose softmax gives each target exactly its probability."""
    rows = []
    for p, t in zip(probabilities, targets):
        row = torch.full((vocab,), (1 - p) / (vocab - 1))
        row[t] = p
        rows.append(row.log())
    return torch.stack(rows)


def test_loss_matches_hand_computation_with_gate_and_normalisation():
    alpha, beta, gamma, tau = 1.0, 0.5, 0.2, 0.6
    # revised: keep, sub, add, EOS (always alpha); original: keep, sub, del, EOS
    w_rev = revised_weights(torch.tensor([KEEP, SUB, ADD, ADD]), alpha, gamma)
    w_orig = original_weights(torch.tensor([KEEP, SUB, DEL, KEEP]), beta)
    assert w_rev.tolist() == pytest.approx([0.2, 1.0, 1.0, 1.0])
    assert w_orig.tolist() == pytest.approx([0.0, -0.5, -0.5, 0.0])

    weights = torch.cat([w_rev, w_orig[1:3]])  # only non-zero weights reach the loss
    p = [0.5, 0.25, 0.8, 0.9, 0.7, 0.3]  # original sub: nll 0.357 <= tau (pushed down); del: nll 1.204 (gated off)
    targets = torch.tensor([0, 1, 2, 3, 1, 2])
    logits = logits_giving(p, targets).requires_grad_()
    loss, stats = figa_loss(token_nll(logits, targets), weights, tau=tau, num_items=6)

    nll = [-math.log(x) for x in p]
    expected = (0.2 * nll[0] + nll[1] + nll[2] + nll[3] - 0.5 * nll[4]) / 6  # N = 6: the gate does not change N
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert stats["gate_pass_count"].item() == 1 and stats["negative_count"].item() == 2
    assert stats["positive_nll_sum"].item() == pytest.approx(sum(nll[:4]), rel=1e-5)
    loss.backward()
    assert logits.grad[5].abs().sum() == 0  # the gated-off token gets no gradient


def test_prob_scale_weights_each_raised_token_by_its_probability_without_differentiating_it():
    weights = torch.tensor([0.2, 1.0, 1.0, -0.5])
    p = [0.5, 0.25, 0.8, 0.7]  # the pushed-down token (nll 0.357 <= tau) is not scaled
    targets = torch.tensor([0, 1, 2, 1])
    logits = logits_giving(p, targets).requires_grad_()
    loss, _ = figa_loss(token_nll(logits, targets), weights, tau=0.6, num_items=4, prob_scale=True)
    nll = [-math.log(x) for x in p]
    expected = (0.2 * p[0] * nll[0] + p[1] * nll[1] + p[2] * nll[2] - 0.5 * nll[3]) / 4  # DFT: p · nll, p constant
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    plain = logits_giving(p, targets).requires_grad_()
    torch.nn.functional.cross_entropy(plain, targets, reduction="none")[1].backward()
    torch.testing.assert_close(logits.grad[1], plain.grad[1] * p[1] / 4)  # the gradient of p·nll with p held fixed


def test_anchored_push_down_gates_by_the_distance_to_the_reference():
    weights = torch.tensor([1.0, -0.5, -0.5, -0.5])
    p = [0.5, 0.1, 0.1, 0.9]  # nll 0.69, 2.30, 2.30, 0.105: with tau = 0.6 only the last would be pushed down
    reference = torch.tensor([0.0, 2.0, 1.0, 0.0])  # the first pushed token has moved 0.30 nats, the second 1.30
    targets = torch.tensor([0, 1, 2, 3])
    logits = logits_giving(p, targets)
    nll = token_nll(logits, targets)
    loss, stats = figa_loss(nll, weights, tau=0.6, num_items=4, reference_nll=reference, anchor_tau=0.5)
    nll = [-math.log(x) for x in p]
    # gate: nll - reference <= 0.5 -> 0.30 yes, 1.30 no, 0.105 yes
    assert loss.item() == pytest.approx((nll[0] - 0.5 * nll[1] - 0.5 * nll[3]) / 4, rel=1e-5)
    assert stats["gate_pass_count"].item() == 2


@pytest.mark.parametrize("anchor_tau", [0.0, 0.3])
def test_anchored_trainer_loss_equals_token_by_token_reference(anchor_tau, tiny_model_dir, tmp_path):
    trainer = _trainer(tiny_model_dir, tmp_path, anchor_tau=anchor_tau, cut_rows=False)
    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():  # move the policy away from the reference (the trainer keeps its own frozen copy)
        for parameter in trainer.model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter, generator=torch.Generator().manual_seed(0)))
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        ours = trainer.compute_loss(trainer.model, batch).item()
        args = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        policy = trainer.model(**args).logits.float().log_softmax(-1)
        ref = reference(**args).logits.float().log_softmax(-1)
    total, count, gated = 0.0, 0, 0
    for row, pos in (batch["weights"] != 0).nonzero().tolist():
        w, target = batch["weights"][row, pos].item(), batch["input_ids"][row, pos + 1]
        nll, ref_nll = -policy[row, pos, target].item(), -ref[row, pos, target].item()
        count += 1
        if w > 0:
            total += w * nll
        elif nll - ref_nll <= anchor_tau:
            total += w * nll
            gated += 1
    if anchor_tau > 0:
        assert 0 < gated < (batch["weights"] < 0).sum()  # the anchor lets some pushed tokens through, not all
    assert ours == pytest.approx(total / count, rel=1e-4)


def test_at_the_first_step_the_anchored_gate_lets_every_pushed_token_through(tiny_model_dir, tmp_path):
    losses = {}
    for name, settings in (("anchored", {"anchor_tau": 0.0}), ("open gate", {"tau": 100.0})):
        trainer = _trainer(tiny_model_dir, tmp_path / name, cut_rows=False, **settings)
        with torch.no_grad():
            losses[name] = trainer.compute_loss(trainer.model, next(iter(trainer.get_train_dataloader()))).item()
    assert losses["anchored"] == pytest.approx(losses["open gate"], rel=1e-6)  # the policy is still the reference


def test_edit_preference_loss_matches_hand_computation():
    from figa.loss import edit_preference_loss

    # pair 0: revised tokens (w 1.0 edited, 0.2 kept), original tokens (w -1.0 edited); pair 1: one of each side
    log_probs = torch.tensor([-1.0, -2.0, -3.0, -0.5, -1.5], requires_grad=True)
    reference = torch.tensor([-1.5, -2.0, -2.0, -1.0, -1.0])
    weights = torch.tensor([1.0, 0.2, -1.0, 1.0, -1.0])
    pairs = torch.tensor([0, 0, 0, 1, 1])
    loss, stats = edit_preference_loss(log_probs, reference, weights, pairs, 2, num_items=4, beta=0.1)
    z0 = 1.0 * 0.5 + 0.2 * 0.0 - 1.0 * (-1.0)  # 1.5
    z1 = 1.0 * 0.5 - 1.0 * (-0.5)  # 1.0
    expected = (math.log(1 + math.exp(-0.1 * z0)) + math.log(1 + math.exp(-0.1 * z1))) / 4  # N: pairs of the step
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # logged as TRL logs DPO: the implicit reward margins beta * z and the share of pairs ahead
    assert stats["margin_sum"].item() == pytest.approx(0.1 * (z0 + z1)) and stats["pairs_ahead"].item() == 2


def test_preference_objective_at_the_first_step_is_log_two_per_pair(tiny_model_dir, tmp_path):
    trainer = _trainer(tiny_model_dir, tmp_path, objective="preference", gamma=0.3)
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, batch).item()
    assert loss == pytest.approx(math.log(2), rel=1e-6)  # policy = reference: every margin is 0


def test_preference_trainer_loss_equals_pair_by_pair_reference(tiny_model_dir, tmp_path):
    trainer = _trainer(tiny_model_dir, tmp_path, objective="preference", gamma=0.3, pref_beta=0.5, cut_rows=False)
    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for parameter in trainer.model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter, generator=torch.Generator().manual_seed(0)))
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        ours = trainer.compute_loss(trainer.model, batch).item()
        args = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        policy = trainer.model(**args).logits.float().log_softmax(-1)
        ref = reference(**args).logits.float().log_softmax(-1)
    margins = [0.0] * len(batch["ids"])
    for row, pos in (batch["weights"] != 0).nonzero().tolist():
        target = batch["input_ids"][row, pos + 1]
        ratio = (policy[row, pos, target] - ref[row, pos, target]).item()
        margins[batch["pairs"][row, pos]] += batch["weights"][row, pos].item() * ratio
    expected = sum(math.log(1 + math.exp(-0.5 * z)) for z in margins) / len(margins)
    assert batch["input_ids"].shape[0] == 2 * len(margins)  # each pair's revised and original rows
    assert ours == pytest.approx(expected, rel=1e-4)


def test_plain_sft_is_a_special_case_of_the_weights():
    w = revised_weights(torch.tensor([KEEP, SUB, ADD]), alpha=1.0, gamma=1.0)
    assert w.tolist() == [1.0, 1.0, 1.0]
    assert original_weights(torch.tensor([SUB, DEL]), beta=0.0).abs().sum() == 0


def _trainer(model_dir, tmp_path, **config):
    """A trainer over 8 pairs, batches of 4, each pair's rows separate (these tests read the rows)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config = {"share_prompt": False, **config}
    args = FIGAConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, report_to="none", **config)
    return FIGATrainer(model=model, args=args, train_dataset=make_spa_records(8), processing_class=tokenizer)


def test_sft_weighting_equals_transformers_causal_lm_loss(tiny_model_dir, tmp_path):
    trainer = _trainer(tiny_model_dir, tmp_path, alpha=1.0, gamma=1.0, beta=0.0, cut_rows=False)  # SFT; full rows
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch["input_ids"].shape[0] == 4  # sft: revised rows only
    labels = torch.full_like(batch["input_ids"], -100)
    labels[:, 1:] = torch.where(batch["weights"][:, :-1] != 0, batch["input_ids"][:, 1:], -100)
    with torch.no_grad():
        ours = trainer.compute_loss(trainer.model, batch)
        theirs = trainer.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels
        ).loss
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)


@pytest.mark.parametrize("prob_scale", [False, True])
def test_trainer_loss_equals_token_by_token_reference(prob_scale, tiny_model_dir, tmp_path):
    trainer = _trainer(tiny_model_dir, tmp_path, gamma=0.1, tau=100.0, cut_rows=False, prob_scale=prob_scale)
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        ours = trainer.compute_loss(trainer.model, batch).item()
        log_probs = (
            trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            .logits.float()
            .log_softmax(-1)
        )
    total, count = 0.0, 0
    for row in range(batch["input_ids"].shape[0]):
        for pos in range(batch["input_ids"].shape[1]):
            w = batch["weights"][row, pos].item()
            if w != 0:
                nll = -log_probs[row, pos, batch["input_ids"][row, pos + 1]].item()
                scale = math.exp(-nll) if prob_scale and w > 0 else 1.0  # DFT scales the raised tokens only
                total += w * scale * nll  # tau=100: every push-down token passes the gate
                count += 1
    assert batch["input_ids"].shape[0] == 8  # revised and original rows
    assert ours == pytest.approx(total / count, rel=1e-4)


def test_external_weights_of_ones_equal_sft_and_wrong_lengths_name_the_field(tiny_model_dir, tmp_path):
    from figa import RecordError

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    records = make_spa_records(8)
    for r in records:
        n_orig = len(tokenizer(r["original_output"], add_special_tokens=False)["input_ids"])
        n_rev = len(tokenizer(r["revised_output"], add_special_tokens=False)["input_ids"])
        r["token_weights"] = {"original": [0.0] * n_orig, "revised": [1.0] * n_rev}
    losses = {}
    sft = {"alpha": 1.0, "gamma": 1.0, "beta": 0.0}  # the FIGA loss at these settings is SFT on the revisions
    for weighting, settings in (("external", {"weighting": "external", "beta": 0.0}), ("sft", sft)):
        args = FIGAConfig(
            output_dir=str(tmp_path / weighting), per_device_train_batch_size=8, report_to="none", **settings
        )
        trainer = FIGATrainer(
            model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
            args=args,
            train_dataset=records,
            processing_class=tokenizer,
        )
        with torch.no_grad():
            losses[weighting] = trainer.compute_loss(trainer.model, next(iter(trainer.get_train_dataloader())))
    assert losses["external"].item() == pytest.approx(losses["sft"].item(), rel=1e-5)

    records[3]["token_weights"]["revised"].append(1.0)
    with pytest.raises(RecordError, match=r"dataset:4: field 'token_weights.revised': has \d+ weights"):
        FIGATrainer(
            model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
            processing_class=tokenizer,
            args=FIGAConfig(output_dir=str(tmp_path / "x"), report_to="none", weighting="external"),
            train_dataset=records,
        )


@pytest.mark.parametrize("mode", ["columns", "all"])
def test_every_way_of_projecting_gives_the_same_loss_and_gradients(mode, tiny_model_dir, tmp_path):
    """transformers before `slice_logits_to_keep` take no boolean mask (figa then projects the columns where some row
    is weighted), and some models take no `logits_to_keep` at all (figa projects everything)."""
    trainer = _trainer(tiny_model_dir, tmp_path, gamma=0.1, tau=100.0)
    assert trainer.logits_mode == "mask"
    batch = next(iter(trainer.get_train_dataloader()))

    def loss_and_grads():
        trainer.model.zero_grad()
        loss = trainer.compute_loss(trainer.model, batch)
        loss.backward()
        return loss.item(), [p.grad.clone() for p in trainer.model.parameters()]

    masked_loss, masked_grads = loss_and_grads()
    trainer.logits_mode = mode
    loss, grads = loss_and_grads()
    assert loss == pytest.approx(masked_loss, rel=1e-6)
    for a, b in zip(grads, masked_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def _weights(tiny_model_dir, record, **settings):
    from figa.data import tokenize_pairs
    from figa.loss import LossSettings, pair_weights
    from figa.records import load_records

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    records, _ = load_records([{"id": "1", "prompt": "where?", **record}])
    row = tokenize_pairs(records, tokenizer, prompt_format="plain")[0][0]
    words = {side: [tokenizer.decode([t]) for t in row[f"{side}_ids"][:-1]] for side in ("original", "revised")}
    return {side: w.tolist() for side, w in pair_weights(row, LossSettings(**settings)).items()}, words


def test_bow_weights_raise_new_words_and_push_down_dropped_words(tiny_model_dir):
    weights, tokens = _weights(
        tiny_model_dir,
        {"original_output": "the cat sat on the mat.", "revised_output": "the dog sat on the mat."},
        weighting="bow",
        alpha=1.0,
        beta=0.5,
        gamma=0.1,
    )
    new = {i for i, t in enumerate(tokens["revised"]) if t.strip() in ("dog", "d", "og")}
    dropped = {i for i, t in enumerate(tokens["original"]) if t.strip() in ("cat", "c", "at")}
    assert new and dropped
    assert weights["revised"] == pytest.approx(
        [1.0 if i in new else 0.1 for i in range(len(tokens["revised"]))] + [1.0]
    )
    assert weights["original"] == [-0.5 if i in dropped else 0.0 for i in range(len(tokens["original"]))] + [0.0]


def test_bow_ignores_reordering_that_the_edit_script_marks(tiny_model_dir):
    record = {"original_output": "the mat sat on the cat.", "revised_output": "the cat sat on the mat."}
    bow, tokens = _weights(tiny_model_dir, record, weighting="bow", alpha=1.0, beta=0.5, gamma=0.0)
    figa, _ = _weights(tiny_model_dir, record, weighting="figa", alpha=1.0, beta=0.5, gamma=0.0)
    assert bow["revised"] == [0.0] * len(tokens["revised"]) + [1.0] and not any(bow["original"])  # same words
    assert sum(w == 1.0 for w in figa["revised"]) > 1 and any(figa["original"])  # the edit script moves words


# A pair whose revision only adds text: its original row carries no weight.
APPEND = {
    "id": "append",
    "prompt": "where did the cat sit?",
    "original_output": "the cat sat on the mat.",
    "revised_output": "the cat sat on the mat. it was warm.",
}


def _one_step(model_dir, out, records, attention=None, **settings):
    """The batch, loss and gradients of one step over all RECORDS (one batch); rows separate unless asked."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, **({"attn_implementation": attention} if attention else {})
    )
    args = FIGAConfig(
        output_dir=str(out),
        per_device_train_batch_size=len(records),
        report_to="none",
        **{"gamma": 0.1, "share_prompt": False, **settings},
    )
    trainer = FIGATrainer(model=model, args=args, train_dataset=records, processing_class=tokenizer)
    batch = next(iter(trainer.get_train_dataloader()))
    loss = trainer.compute_loss(trainer.model, batch)
    loss.backward()
    return trainer, batch, loss.item(), [p.grad.clone() for p in trainer.model.parameters()]


def _assert_same_step(loss, grads, other_loss, other_grads):
    assert loss == pytest.approx(other_loss, rel=1e-5)
    for a, b in zip(grads, other_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_cut_rows_give_the_same_loss_and_gradients_as_full_rows(tiny_model_dir, tmp_path):
    records = [*make_spa_records(6), APPEND]
    _, full, full_loss, full_grads = _one_step(tiny_model_dir, tmp_path / "full", records, tau=3.0, cut_rows=False)
    _, cut, cut_loss, cut_grads = _one_step(tiny_model_dir, tmp_path / "cut", records, tau=3.0, cut_rows=True)
    assert full["input_ids"].shape[0] == 14 and cut["input_ids"].shape[0] == 13  # the weightless original is out
    assert cut["attention_mask"].sum() < full["attention_mask"].sum()
    assert (cut["weights"] != 0).sum() == (full["weights"] != 0).sum()
    _assert_same_step(cut_loss, cut_grads, full_loss, full_grads)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_shared_prompt_rows_give_the_same_loss_and_gradients_as_separate_rows(tiny_model_dir, tmp_path, attention):
    records = [*make_spa_records(6), APPEND]  # APPEND has one row only: nothing to share
    _, rows, rows_loss, rows_grads = _one_step(
        tiny_model_dir, tmp_path / "rows", records, attention, tau=100.0
    )  # every gate open
    trainer, shared, shared_loss, shared_grads = _one_step(
        tiny_model_dir, tmp_path / "shared", records, attention, tau=100.0, share_prompt=True
    )
    assert rows["input_ids"].shape[0] == 13 and shared["input_ids"].shape[0] == 7  # one row per pair
    assert shared["attention_mask"].dim() == 4
    _, default, _, _ = _one_step(tiny_model_dir, tmp_path / "default", records, attention, share_prompt=None)
    assert default["attention_mask"].dim() == 4  # figa train's default under sdpa and eager attention
    shared_prompts = sum(len(pair["prompt_ids"]) - 1 for pair in trainer.train_dataset if pair["id"] != "append")
    tokens = shared["input_ids"].ne(trainer.processing_class.pad_token_id).sum()
    assert tokens == rows["attention_mask"].sum() - shared_prompts  # each prompt runs once, not twice
    assert (shared["weights"] != 0).sum() == (rows["weights"] != 0).sum()
    _assert_same_step(shared_loss, shared_grads, rows_loss, rows_grads)


def test_span_weights_map_onto_the_tokens_they_cover(tiny_model_dir):
    from figa.data import tokenize_pairs
    from figa.loss import LossSettings, pair_weights
    from figa.records import load_records

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    original, revised = "the cat sat on the mat.", "the dog sat on the mat."
    spans = {
        "original": [{"start": 4, "end": 7, "weight": 1.0}],  # "cat"
        "revised": [
            {"start": 5, "end": 6, "weight": 2.0},  # the "o" of "dog": cuts that token
            {"start": 19, "end": 22, "weight": 0.5},
        ],
    }  # "mat"
    records, _ = load_records(
        [
            {
                "id": "1",
                "prompt": "where?",
                "original_output": original,
                "revised_output": revised,
                "span_weights": spans,
            }
        ]
    )
    row = tokenize_pairs(records, tokenizer, prompt_format="plain")[0][0]
    weights = pair_weights(row, LossSettings(weighting="external", alpha=1.0, beta=0.5))

    def expected(text, side_spans):
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        out = []
        for start, end in encoded["offset_mapping"]:
            piece = text[start:end]
            out.append(
                next(
                    (
                        s["weight"]
                        for s in side_spans
                        if piece.strip() and set(range(start, end)) & set(range(s["start"], s["end"]))
                    ),
                    0.0,
                )
            )
        return out

    dog = [tokenizer.decode([t]).strip() for t, w in zip(row["revised_ids"], weights["revised"]) if w == 2.0]
    assert "".join(dog) == "dog"  # the span cut "dog": the whole token (or every token of the word it cut) counts
    assert weights["revised"].tolist() == expected(revised, spans["revised"]) + [1.0]  # EOS: alpha
    assert weights["original"].tolist() == [-0.5 * w for w in expected(original, spans["original"])] + [0.0]


@pytest.mark.parametrize(
    "spans, problem",
    [
        (
            {"original": [], "revised": [{"start": 3, "end": 99, "weight": 1}]},
            "span_weights.revised[0]': span 3-99 is out of range",
        ),
        (
            {"original": [], "revised": [{"start": 0, "end": 5, "weight": 1}, {"start": 4, "end": 6, "weight": 1}]},
            "span_weights.revised[1]': span 4-6 overlaps the span before it",
        ),
        (
            {"original": [{"start": 0, "end": 3, "weight": float("nan")}], "revised": []},
            "span_weights.original[0].weight': expected a number from 0 to 1e+06, got nan",
        ),
        ({"original": [{"start": 0, "end": 3}], "revised": []}, "span_weights.original[0].weight'"),
        (
            {"original": [], "revised": [{"start": 4, "end": 6, "weight": 1}, {"start": "a", "end": 3, "weight": 1}]},
            'span_weights.revised[1]\': expected {"start": int',
        ),  # the record's own index, not the sorted one
        ([1, 2], "span_weights': expected"),
    ],
)
def test_bad_span_weights_name_file_line_and_field(spans, problem, tmp_path):
    from figa import RecordError
    from figa.records import load_records

    path = tmp_path / "spa.jsonl"
    good = {"prompt": "where?", "original_output": "the cat sat.", "revised_output": "the dog sat."}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "2", "span_weights": spans}) + "\n")
    with pytest.raises(RecordError) as error:
        load_records(str(path))
    assert str(error.value).startswith(f"{path}:2: field '") and problem in str(error.value)


def test_eos_weight_replaces_alpha_on_the_eos_only(tiny_model_dir):
    record = {"original_output": "the cat sat on the mat.", "revised_output": "the dog sat on the mat."}
    default, _ = _weights(tiny_model_dir, record, weighting="figa", alpha=1.0, gamma=0.0)
    lowered, _ = _weights(tiny_model_dir, record, weighting="figa", alpha=1.0, gamma=0.0, eos_weight=0.25)
    assert default["revised"][-1] == 1.0 and lowered["revised"][-1] == 0.25
    assert lowered["revised"][:-1] == default["revised"][:-1] and lowered["original"] == default["original"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_chunked_nll_equals_the_full_logits_nll_with_its_gradients(dtype):
    from figa.chunked import chunked_nll

    torch.manual_seed(0)
    head = torch.nn.Linear(16, 50, bias=True).to(dtype)
    hidden = torch.randn(10, 16, dtype=dtype, requires_grad=True)
    targets = torch.randint(0, 50, (10,))
    upstream = torch.randn(10)  # any weights on the nll, of either sign
    chunked = chunked_nll(hidden, head, targets, chunk_rows=3)  # 3 + 3 + 3 + 1 rows
    (chunked * upstream).sum().backward()
    grads = [hidden.grad.clone(), head.weight.grad.clone(), head.bias.grad.clone()]
    for tensor in (hidden, head.weight, head.bias):
        tensor.grad = None
    full = token_nll(head(hidden), targets)  # what the unchunked path computes: the head in its dtype
    (full * upstream).sum().backward()
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 2e-2, "atol": 2e-2}
    torch.testing.assert_close(chunked, full, **tolerance)
    for ours, theirs in zip(grads, [hidden.grad, head.weight.grad, head.bias.grad]):
        assert ours.dtype == dtype
        torch.testing.assert_close(ours, theirs, **tolerance)


def test_chunked_nll_under_bf16_autocast_projects_as_the_unchunked_head_does():
    """Mixed-precision training (`--bf16`) runs the model inside autocast, where the unchunked path's LM head
    projects in bfloat16 and its nll upcasts those logits: the chunked path gives that nll (an earlier version
    projected in float32, several times slower on a GPU and off from the unchunked nll by bf16's rounding)."""
    from figa.chunked import chunked_nll

    torch.manual_seed(0)
    head = torch.nn.Linear(64, 500, bias=False)
    hidden = (torch.randn(40, 64) * 3).requires_grad_()
    targets = torch.randint(0, 500, (40,))
    float32 = token_nll(torch.nn.functional.linear(hidden, head.weight), targets).detach()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        unchunked = token_nll(head(hidden), targets)
        chunked = chunked_nll(hidden, head, targets, chunk_rows=16)
    assert chunked.dtype == torch.float32
    torch.testing.assert_close(chunked, unchunked, rtol=1e-5, atol=1e-5)
    assert (chunked - float32).abs().max() > 1e-3  # bf16's rounding of the logits, as in the unchunked nll
    grads = []
    for nll in (chunked, unchunked):
        hidden.grad = head.weight.grad = None
        nll.sum().backward()
        grads.append((hidden.grad.clone(), head.weight.grad.clone()))
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize(
    "loss",
    [
        {"gamma": 0.1, "tau": 100.0},
        {"weighting": "bow", "tau": 3.0},
        {"alpha": 1.0, "gamma": 1.0, "beta": 0.0, "prob_scale": True},
        {"anchor_tau": 0.0},
        {"objective": "preference", "gamma": 0.3},
    ],
    ids=["figa", "bow", "dft", "anchor", "preference"],
)
def test_the_chunked_loss_gives_the_same_loss_and_gradients_as_full_logits(
    loss, tiny_model_dir, tmp_path, monkeypatch
):
    import figa.chunked
    import figa.trainer

    chunked_rows = []
    real = figa.trainer.chunked_nll
    monkeypatch.setattr(figa.trainer, "chunked_nll", lambda *a, **k: chunked_rows.append(len(a[0])) or real(*a, **k))
    records = [*make_spa_records(6), APPEND]
    _, _, full_loss, full_grads = _one_step(tiny_model_dir, tmp_path / "full", records, chunked_loss="auto", **loss)
    assert not chunked_rows  # the tiny model's logits are far below the 256 MiB of `auto`
    monkeypatch.setattr(figa.chunked, "AUTO_BYTES", 0)
    trainer, batch, chunked_loss, chunked_grads = _one_step(
        tiny_model_dir, tmp_path / "chunked", records, chunked_loss="auto", chunk_rows=7, **loss
    )
    assert chunked_rows[0] == (batch["weights"] != 0).sum() > 7  # every weighted position, in several chunks
    _assert_same_step(chunked_loss, chunked_grads, full_loss, full_grads)


@pytest.mark.parametrize("objective", [{}, {"objective": "preference", "beta": 1.0}])
def test_packed_rows_give_the_same_loss_and_gradients_as_padded_rows(tiny_model_dir, tmp_path, objective):
    records = [*make_spa_records(6), APPEND]
    settings = {"tau": 3.0, **objective}
    trainer, padded, padded_loss, padded_grads = _one_step(tiny_model_dir, tmp_path / "padded", records, **settings)
    _, packed, packed_loss, packed_grads = _one_step(
        tiny_model_dir, tmp_path / "packed", records, packing="always", **settings
    )
    rows = padded["input_ids"].shape[0]
    assert "attention_mask" in padded  # --packing auto does not pack under sdpa attention (no varlen kernel)
    assert rows >= 13 and packed["input_ids"].shape[0] == 1  # every row in one
    assert packed["input_ids"].shape[1] == padded["attention_mask"].sum() < padded["input_ids"].numel()  # no padding
    assert "attention_mask" not in packed and (packed["position_ids"] == 0).sum() == rows  # restarts
    assert (packed["weights"] != 0).sum() == (padded["weights"] != 0).sum()
    _assert_same_step(packed_loss, packed_grads, padded_loss, padded_grads)


def test_packing_with_a_shared_prompt_is_refused():
    with pytest.raises(FigaError, match="--packing and --share_prompt each lay out the rows their own way"):
        FIGAConfig(output_dir="x", packing="always", share_prompt=True, report_to="none")


def _train_one_step(model_dir, out, **settings):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    args = FIGAConfig(
        output_dir=str(out), per_device_train_batch_size=6, max_steps=1, logging_steps=1, report_to="none", **settings
    )
    trainer = FIGATrainer(model=model, args=args, train_dataset=make_spa_records(6), processing_class=tokenizer)
    trainer.train()
    return trainer.state.log_history[0]["loss"], [p.detach().clone() for p in trainer.model.parameters()]


@pytest.mark.parametrize(
    "settings", [{"anchor_tau": 0.5, "beta": 0.5, "gamma": 0.3}, {"objective": "preference", "pref_beta": 0.5}]
)
def test_the_reference_computed_once_gives_the_same_training_and_is_reused(
    tiny_model_dir, tmp_path, monkeypatch, settings
):
    monkeypatch.setenv("FIGA_CACHE", str(tmp_path / "cache"))
    live_loss, live_weights = _train_one_step(
        tiny_model_dir, tmp_path / "live", precompute_ref_log_probs=False, **settings
    )
    assert not (tmp_path / "cache" / "reference").exists()
    cached_loss, cached_weights = _train_one_step(tiny_model_dir, tmp_path / "cached", **settings)
    assert cached_loss == pytest.approx(live_loss, rel=1e-5)
    for a, b in zip(cached_weights, live_weights):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    cache = sorted((tmp_path / "cache" / "reference").glob("*.arrow"))
    assert len(cache) == 1
    stamp = cache[0].stat().st_mtime_ns
    _train_one_step(tiny_model_dir, tmp_path / "again", seed=7, **{**settings, "pref_beta": 2.0, "gamma": 0.0})
    assert sorted((tmp_path / "cache" / "reference").glob("*.arrow")) == cache  # another seed and loss: reused
    assert cache[0].stat().st_mtime_ns == stamp
