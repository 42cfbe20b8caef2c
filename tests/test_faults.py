"""Faults on the studio, the chunked loss, servers that do not answer, tokens given as flags, full disks at a save,
and likelihood comparisons across tokenizers (docs/reliability.md): each refused in one line or handled, nothing
lost, no number silently wrong."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest
import torch
from transformers import AutoTokenizer, GraniteConfig, GraniteForCausalLM, LlamaForCausalLM

from figa import FIGAConfig, FIGATrainer
from figa.backends.openai_client import EndpointConfig
from figa.backends.protocols import ServerUnavailable
from figa.backends.rewards import make_reward
from figa.cli import main
from figa.errors import FigaError
from figa.studio.store import AnnotationStore
from figa.testing import build_model, build_tokenizer, corpus, make_spa_records, save_tiny_model

from .conftest import PAIRS, REPO, SECRET, curate_args, prompts_file, read, write_jsonl
from .openai_server import Server
from .test_hostile import one_line_error
from .test_reliability import with_file_size_limit

pytestmark = pytest.mark.usefixtures("in_repo")
DOWN = "http://127.0.0.1:9/v1"  # nothing listens on the discard port: connection refused


def stage_errors(out) -> list[dict]:
    """The error rows saved in OUTPUT_DIR/stages (a record's verdict, replayed by every rerun)."""
    stages = out / "stages"
    return [row for path in stages.glob("*.jsonl") for row in read(path) if "error" in row] if stages.exists() else []


# servers that do not answer


@pytest.mark.slow  # three curations of 9 prompts with the tiny policy (about 15 s on 2 cores)
def test_a_reviser_that_is_down_or_refuses_the_key_stores_nothing_and_a_rerun_completes(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    prompts, out = prompts_file(tmp_path), tmp_path / "spa"
    assert main(curate_args(tiny_model_dir, prompts, out, DOWN, "--max_retries", "0")) == 2
    one_line_error(capsys, f"{DOWN} (model test-reviser) did not answer: APIConnectionError", "run the same command")
    assert stage_errors(out) == [] and not (out / "train.jsonl").exists()
    with Server(faults=False) as server:
        server.down_status = 401
        assert main(curate_args(tiny_model_dir, prompts, out, server.url, "--concurrency", "1")) == 2
        one_line_error(capsys, "did not answer: HTTP 401")
        assert len(server.attempts) <= 2  # stopped at the first refusal (and the request sent beside it)
        assert stage_errors(out) == []
        server.down_status = None
        assert main(curate_args(tiny_model_dir, prompts, out, server.url)) == 0
        assert main(curate_args(tiny_model_dir, prompts, tmp_path / "fresh", server.url)) == 0
    assert read(out / "train.jsonl") == read(tmp_path / "fresh" / "train.jsonl")
    assert len(read(out / "train.jsonl")) == len(PAIRS) + 1


@pytest.mark.slow  # two curations with the tiny policy
def test_a_prompt_the_server_fails_on_is_asked_again_by_the_rerun_the_rest_is_kept(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    prompts = prompts_file(tmp_path, [{"id": "fail", "prompt": "ALWAYS_FAIL. mention cat and bed."}])
    out = tmp_path / "spa"
    with Server() as server:  # answers every request but this one's, which gets HTTP 500 at every try
        assert main(curate_args(tiny_model_dir, prompts, out, server.url, "--concurrency", "4")) == 2
    one_line_error(capsys, "1 of ", "requests got no answer", "HTTP 500")
    assert stage_errors(out) == []
    with Server(faults=False) as server:  # the server mended: only the unanswered prompt is sent again
        assert main(curate_args(tiny_model_dir, prompts, out, server.url)) == 0
        revisions = [key for key, n in server.attempts.items()]
    assert len(revisions) == 1
    assert "fail" in {r["id"] for r in read(out / "train.jsonl")}


def test_a_judge_that_is_down_stops_the_scoring_instead_of_scoring_nan():
    judge = make_reward("openai:judge", EndpointConfig(base_url=DOWN, max_retries=0, timeout=2))
    with pytest.raises(ServerUnavailable, match="did not answer: APIConnectionError"):
        judge.score(["a prompt"], ["an answer"], [None])


@pytest.mark.slow
def test_every_request_failing_as_the_records_fault_is_an_error_not_an_empty_success(tiny_model_dir, tmp_path, capsys):
    prompts = prompts_file(tmp_path)
    args = curate_args(tiny_model_dir, prompts, tmp_path / "spa", DOWN)
    args[args.index("openai:test-reviser")] = "python:tests.test_faults:refusing_reviser"
    assert main(args) == 2
    one_line_error(capsys, "revise: every one of the", "requests failed", "refuses everything")
    assert stage_errors(tmp_path / "spa") == []


def refusing_reviser(prompt, original, reference=None, target=None):
    raise ValueError("refuses everything")


# the studio's store


def test_studio_export_onto_its_own_store_is_refused_and_the_store_kept(tmp_path, capsys):
    data = write_jsonl(tmp_path / "data.jsonl", [{"id": "a", "prompt": "p", "response": "r"}])
    store = AnnotationStore(str(tmp_path / "studio"))
    store.close()
    before = (tmp_path / "studio" / "studio.sqlite3").read_bytes()
    for target in ("studio.sqlite3", "studio.sqlite3-wal"):
        output = tmp_path / "studio" / target
        assert main(["studio", "export", data, "--output_dir", str(tmp_path / "studio"), "-o", str(output)]) == 2
        one_line_error(capsys, f"-o {output} is also the input the studio's store")
    assert (tmp_path / "studio" / "studio.sqlite3").read_bytes() == before


# the chunked loss on models whose logits are not their head's output


def granite_dir(tmp_path, tokenizer) -> str:
    torch.manual_seed(0)
    config = GraniteConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        logits_scaling=8.0,  # Granite divides its logits by this after the head
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    path = str(tmp_path / "granite")
    GraniteForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


class DoubledLogits(LlamaForCausalLM):
    """An architecture no config field describes: it scales the head's output in its forward."""

    def forward(self, *args, **kwargs):
        outputs = super().forward(*args, **kwargs)
        outputs.logits = outputs.logits * 2
        return outputs


def first_batch_loss(model, tokenizer, tmp_path, chunked: str) -> float:
    args = FIGAConfig(
        output_dir=str(tmp_path / f"out-{chunked}"), per_device_train_batch_size=4, report_to="none",
        chunked_loss=chunked, chunk_rows=5, tau=3.0,
    )  # fmt: skip
    trainer = FIGATrainer(model=model, args=args, train_dataset=make_spa_records(8), processing_class=tokenizer)
    with torch.no_grad():
        return trainer.compute_loss(trainer.model, next(iter(trainer.get_train_dataloader()))).item()


def test_the_chunked_loss_never_changes_the_loss_of_a_model_that_scales_its_logits(tmp_path, caplog):
    tokenizer = build_tokenizer(corpus())
    granite = granite_dir(tmp_path, tokenizer)
    llama = build_model(tokenizer)
    llama.save_pretrained(tmp_path / "llama")
    models = {
        "granite": lambda: GraniteForCausalLM.from_pretrained(granite),
        "doubled": lambda: DoubledLogits.from_pretrained(tmp_path / "llama"),
    }
    for name, load in models.items():
        plain = first_batch_loss(load(), tokenizer, tmp_path / name, "never")
        caplog.clear()
        chunked = first_batch_loss(load(), tokenizer, tmp_path / name, "always")
        assert chunked == pytest.approx(plain, rel=1e-5), name
        warned = [r.message for r in caplog.records if "chunked_loss always" in r.message]
        assert len(warned) == 1 and "the loss uses the model's own logits, unchunked" in warned[0], name
    plain_llama = first_batch_loss(LlamaForCausalLM.from_pretrained(tmp_path / "llama"), tokenizer, tmp_path, "never")
    doubled = first_batch_loss(models["doubled"](), tokenizer, tmp_path / "d2", "never")
    assert doubled != pytest.approx(plain_llama, rel=1e-3)  # the doubling is real: a chunked head would miss it


# tokens given as flags, and full disks at a save


def train_command(model_dir, data, out, *extra):
    return [
        sys.executable, "-m", "figa", "train", "--model_name_or_path", model_dir, "--data", data,
        "--output_dir", str(out), "--max_steps", "2", "--per_device_train_batch_size", "4", "--save_steps", "1",
        "--report_to", "none", "--use_cpu", "true", *map(str, extra),
    ]  # fmt: skip


@pytest.mark.slow  # a training in a subprocess
def test_a_hub_token_given_as_a_flag_reaches_no_file(tiny_model_dir, spa_file, tmp_path):
    token = "hf_FlagTokenNeverWritten123"
    out = tmp_path / "out"
    result = subprocess.run(
        train_command(tiny_model_dir, spa_file, out, "--hub_token", token),
        env={**os.environ, "PYTHONPATH": REPO},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert token not in result.stdout + result.stderr
    written = [path for path in out.rglob("*") if path.is_file()]
    assert any(path.name == "training_args.bin" for path in written)
    assert [path for path in written if token.encode() in path.read_bytes()] == []


@pytest.mark.slow  # a training in a subprocess
def test_a_full_disk_at_the_final_save_is_one_line_and_leaves_no_model_that_looks_complete(
    tiny_model_dir, spa_file, tmp_path
):
    out = tmp_path / "out"
    result = subprocess.run(
        train_command(tiny_model_dir, spa_file, out, "--save_strategy", "no"),
        env={**os.environ, "PYTHONPATH": REPO},
        capture_output=True,
        text=True,
        preexec_fn=with_file_size_limit(os.path.getsize(os.path.join(tiny_model_dir, "model.safetensors")) - 1),
    )
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr and last.startswith("figa train: error: could not save"), last
    assert "Is the disk full?" in last
    left = sorted(path.name for path in out.iterdir())
    assert not {"config.json", "model.safetensors", "figa_train_report.json"} & set(left), left


# likelihood on pairs


def test_eval_pairs_refuses_models_with_other_tokenizers_and_scores_long_pairs_whole(tiny_model_dir, tmp_path, capsys):
    other = save_tiny_model(str(tmp_path / "other"), [text.upper() for text in corpus()])
    pairs = write_jsonl(tmp_path / "pairs.jsonl", make_spa_records(4))
    for models in ([tiny_model_dir, other], [other, tiny_model_dir]):
        argv = ["eval", "--model", *models, "--pairs", pairs, "--output_dir", str(tmp_path / "eval")]
        assert main(argv) == 2
        one_line_error(capsys, "tokenises the pairs otherwise than the baseline")

    from figa.evaluation.likelihood import likelihood_comparison

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    other_weights = str(tmp_path / "seed1")  # the same tokenizer, other weights
    build_model(tokenizer, seed=1).save_pretrained(other_weights)
    tokenizer.save_pretrained(other_weights)
    filler = " it was a quiet day." * 300  # past 1024 tokens, and the only edit after them
    long = [
        {**r, "original_output": r["original_output"] + filler + " cat", "meta": {"paragraph": ""}}
        for r in make_spa_records(4)
    ]
    for r in long:
        r["revised_output"] = r["original_output"][: -len(" cat")] + " dog"
    assert len(tokenizer(long[0]["original_output"])["input_ids"]) > 1100
    data = write_jsonl(tmp_path / "long.jsonl", long)
    table = likelihood_comparison(["base", "seed1"], [tiny_model_dir, other_weights], data)
    assert all(margin != 0 for margin in table["base"]["margins"])  # cut at 1024 tokens, both sides were equal
    low, high = table["seed1"]["margin_gain_ci95"]
    assert low < high  # an empty meta.paragraph groups nothing: each pair is its own group


def test_eval_pairs_that_are_the_output_are_refused_before_any_work(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    out.mkdir()
    results = write_jsonl(out / "results.json", make_spa_records(2))
    before = open(results, "rb").read()
    assert main(["eval", "--model", tiny_model_dir, "--pairs", results, "--output_dir", str(out)]) == 2
    one_line_error(capsys, "is also the input --pairs")
    assert open(results, "rb").read() == before


# missing extras and odd numbers


def test_missing_extras_are_one_line_before_any_work(tiny_model_dir, tmp_path, monkeypatch, capsys):
    data = write_jsonl(tmp_path / "data.jsonl", [{"id": "a", "prompt": "p", "response": "r"}])
    for module in ("figa.studio.server", "figa.studio.app"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    for module in [m for m in sys.modules if m == "starlette" or m.startswith("starlette.")] or ["starlette"]:
        monkeypatch.setitem(sys.modules, module, None)  # importing it raises ImportError, as when not installed
    monkeypatch.setitem(sys.modules, "openai", None)
    assert main(["studio", data, "--port", "70000"]) == 2  # were the import to succeed: a port error, not a server
    one_line_error(capsys, "the studio extra is not installed (starlette is missing)")
    out = tmp_path / "export.jsonl"
    assert main(["studio", "export", data, "--output_dir", str(tmp_path / "studio"), "-o", str(out)]) == 2
    one_line_error(capsys, "holds no studio.sqlite3: give the --output_dir that figa studio saved to")
    AnnotationStore(str(tmp_path / "studio")).close()
    assert main(["studio", "export", data, "--output_dir", str(tmp_path / "studio"), "-o", str(out)]) == 0
    assert out.exists()  # the export needs no web server
    prompts = prompts_file(tmp_path)
    assert main(curate_args(tiny_model_dir, prompts, tmp_path / "spa", DOWN)) == 2
    one_line_error(capsys, "--reviser openai:test-reviser needs the `openai` package")
    assert not (tmp_path / "spa" / "stages").exists()  # refused before the rollouts
    assert main(curate_args(tiny_model_dir, prompts, tmp_path / "spa", DOWN, "--shard", "²/3")) == 2
    one_line_error(capsys, "--shard must be I/N")


@pytest.mark.parametrize("method", ["figa", "sft"])
def test_a_budget_no_trainer_can_train_with_is_one_line(method, tiny_model_dir, spa_file, tmp_path, capsys):
    for flag, value in (("--learning_rate", "-1"), ("--per_device_train_batch_size", "0"),
                        ("--gradient_accumulation_steps", "0")):  # fmt: skip
        argv = ["train", "--method", method, "--model_name_or_path", tiny_model_dir, "--data", spa_file,
                "--output_dir", str(tmp_path / "out"), flag, value]  # fmt: skip
        assert main(argv) == 2
        one_line_error(capsys, f"{flag} must be")
    assert not (tmp_path / "out").exists()


def test_resuming_a_checkpoint_under_another_objective_is_refused(tiny_model_dir, spa_file, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["train", "--model_name_or_path", tiny_model_dir, "--data", spa_file, "--output_dir", str(out),
            "--per_device_train_batch_size", "4", "--save_steps", "1", "--report_to", "none"]  # fmt: skip
    assert main([*argv, "--max_steps", "1"]) == 0
    again = [*argv, "--max_steps", "2", "--resume_from_checkpoint", "latest"]
    assert main([*again, "--objective", "preference"]) == 2
    one_line_error(
        capsys, f"{out / 'checkpoint-1'} was trained with other loss settings", "objective None (now preference)"
    )
    assert main([*again, "--gamma", "0.1"]) == 2
    one_line_error(capsys, "gamma 0.3 (now 0.1)", f"--model_name_or_path {out / 'checkpoint-1'}")
    assert main(again) == 0  # the same settings resume


def test_a_studio_store_that_is_foreign_corrupt_linked_or_read_only_is_refused_at_start(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    sqlite3.connect(foreign / "studio.sqlite3").execute("CREATE TABLE annotations (x TEXT)").connection.commit()
    with pytest.raises(FigaError, match="not a figa studio store"):
        AnnotationStore(str(foreign))
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "studio.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(FigaError, match="cannot be used as the studio's store"):
        AnnotationStore(str(tmp_path / "corrupt"))
    (tmp_path / "linked").mkdir()
    os.symlink(foreign / "studio.sqlite3", tmp_path / "linked" / "studio.sqlite3")
    with pytest.raises(FigaError, match="symbolic link"):
        AnnotationStore(str(tmp_path / "linked"))
    store = tmp_path / "ro"
    AnnotationStore(str(store)).close()
    os.chmod(store / "studio.sqlite3", 0o444)
    os.chmod(store, 0o555)
    try:
        if not os.access(store / "studio.sqlite3", os.W_OK):  # root writes read-only files: nothing to refuse
            with pytest.raises(FigaError, match="cannot be used as the studio's store"):
                AnnotationStore(str(store))
    finally:
        os.chmod(store, 0o755)


def test_demo_grids_and_settings_that_cannot_run_are_one_line(tmp_path, capsys):
    point = {"learning_rate": 1e-5, "epochs": 1}
    grids = {
        "true as a learning rate": {"sft": [{**point, "learning_rate": True}]},
        "epochs 1e12": {"sft": [{**point, "epochs": 1e12}]},
        "2,000 points": {"sft": [{**point, "learning_rate": i * 1e-7} for i in range(2000)]},
    }
    for name, grid in grids.items():
        path = tmp_path / "grid.json"
        path.write_text(json.dumps(grid))
        assert main(["demo", "--tune", "--grid", str(path), "--output_dir", str(tmp_path / "demo")]) == 2, name
        one_line_error(capsys, "grid: ")
    assert main(["demo", "--grid", str(path), "--output_dir", str(tmp_path / "demo")]) == 2
    one_line_error(capsys, "--grid is what --tune searches")
    (tmp_path / "tune.json").write_text(json.dumps({"chosen": [point]}))
    assert main(["demo", "--settings", str(tmp_path / "tune.json"), "--output_dir", str(tmp_path / "demo")]) == 2
    one_line_error(capsys, "not a tune.json of `figa demo --tune`")
    assert not (tmp_path / "demo").exists()


def logit_reward(prompts, responses, references):
    """keyword_reward on a reward model's scale: raw logits from -8 to 8."""
    from .curation_helpers import keyword_reward

    return [16 * score - 8 for score in keyword_reward(prompts, responses, references)]


@pytest.mark.slow  # two curations with the tiny policy
def test_a_reward_outside_the_default_thresholds_scale_is_warned_of_before_any_revision(
    tiny_model_dir, tmp_path, capsys
):
    prompts = prompts_file(tmp_path)
    args = curate_args(tiny_model_dir, prompts, tmp_path / "spa", DOWN, "--max_retries", "0")
    args[args.index("python:tests.curation_helpers:keyword_reward")] = "python:tests.test_faults:logit_reward"
    assert main(args) == 2  # the reviser is down: the warning came before any request
    printed = capsys.readouterr()
    warned = [line for line in (printed.out + printed.err).splitlines() if "outside 0..1" in line]
    assert len(warned) == 1 and "from -8 to " in warned[0] and "e.g. --eta1 " in warned[0]
    args[args.index("--output_dir") + 1] = str(tmp_path / "spa2")
    assert main([*args, "--eta1", "0"]) == 2  # thresholds set on the reward's scale: no warning
    printed = capsys.readouterr()
    assert "outside 0..1" not in printed.out + printed.err
