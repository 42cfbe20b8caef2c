"""`figa weigh`: span weights from a judge for every SPA record, resumably (docs/guides/weigh.md).

Each judged record is saved in a stage store as soon as its reply is read, so a rerun of the same command only
asks about the records that have no saved result. A reply that cannot be used is asked again (`--attempts`);
after the last attempt, or when the endpoint fails for good, the record goes to the rejected file with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..backends.generation import EndpointOptions, GenerationOptions
from ..backends.protocols import ReplyError
from ..backends.specs import split_spec
from ..backends.stages import Job, run_stage
from ..backends.store import StageStore, settings_key
from ..errors import FigaError
from ..files import check_outputs, make_dir, prepare_output_file, write_jsonl
from ..prompts import query_text
from ..records import load_records
from .judges import JUDGE_KINDS, JUDGE_TEMPLATE, make_judge
from .replies import MODES, UnusableReply, parse_reply


@dataclass
class WeighConfig(GenerationOptions, EndpointOptions):
    data: str = field(
        default=None, metadata={"help": "SPA records (JSONL/JSON/Parquet), e.g. figa curate's train.jsonl."}
    )
    judge: str = field(default=None, metadata={"help": "openai:MODEL (any OpenAI-compatible server) or hf:MODEL."})
    mode: str = field(
        default="binary",
        metadata={
            "help": "binary: every marked span weighs 1; weighted: the judge's score from 0 to 1.",
            "choices": list(MODES),
        },
    )
    output: str = field(
        default=None,
        metadata={
            "aliases": ["-o"],
            "help": "The weighted records (JSONL); next to "
            "it: NAME.rejected.jsonl and NAME.stages/ (the saved "
            "replies).",
        },
    )
    attempts: int = field(default=3, metadata={"help": "Times to ask about one record when its reply cannot be used."})
    skip_bad_records: bool = field(
        default=False, metadata={"help": "Reject bad input records (listed in the rejected file) instead of stopping."}
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model repository code to run."})

    def check(self) -> None:
        for name in ("data", "judge", "output"):
            if not getattr(self, name):
                raise FigaError(f"--{name} is required")
        split_spec(self.judge, JUDGE_KINDS, "judge")
        if self.mode not in MODES:
            raise FigaError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        self.check_generation()
        self.check_endpoint()
        if self.attempts < 1:
            raise FigaError(f"--attempts must be at least 1, got {self.attempts}")
        rejected, stages = self.paths()
        check_outputs(
            {"--output": self.output, "the rejected file": rejected, "the stage directory": stages},
            {"--data": self.data},
        )

    def paths(self) -> tuple[str, str]:
        """The rejected file and the stage directory, named after the output."""
        stem = self.output[: -len(".jsonl")] if self.output.endswith(".jsonl") else self.output
        return f"{stem}.rejected.jsonl", f"{stem}.stages"


@dataclass
class WeighResult:
    records: list[dict]  # the records the judge weighed, with `span_weights`
    rejected: list[dict]  # {"id", "reason"}
    output: str


class _AskingAgain:
    """The judge as a stage back end whose result is a record's `span_weights`: a reply that cannot be used is
    asked again up to `attempts` times, then becomes a `ReplyError` with the last reason."""

    def __init__(self, judge, mode: str, attempts: int):
        self.judge, self.mode, self.attempts = judge, mode, attempts
        self.per_record = judge.per_record

    def _read(self, item: dict, reply: str) -> dict:
        return parse_reply(reply, item["original"], item["revised"], self.mode)

    def _gave_up(self, reason: str) -> ReplyError:
        return ReplyError(f"no usable reply in {self.attempts} attempts; the last: {reason}")

    def one(self, item: dict) -> dict:
        reason = ""
        for attempt in range(self.attempts):
            try:
                return self._read(item, self.judge.one(item, attempt))
            except UnusableReply as error:
                reason = str(error)
        raise self._gave_up(reason)

    def batch(self, items: list[dict]) -> list:
        results: list = [None] * len(items)
        todo = list(range(len(items)))
        for attempt in range(self.attempts):
            replies = self.judge.batch([items[i] for i in todo], attempt)
            unusable = []
            for i, reply in zip(todo, replies):
                try:
                    results[i] = self._read(items[i], reply)
                except UnusableReply as error:
                    results[i] = self._gave_up(str(error))
                    unusable.append(i)
            todo = unusable
            if not todo:
                break
        return results


def _row(job_id: str, result) -> dict:
    if isinstance(result, ReplyError):
        return {"id": job_id, "error": str(result)}
    if isinstance(result, BaseException):
        raise result
    return {"id": job_id, "span_weights": result}


def weigh(config: WeighConfig) -> WeighResult:
    """Ask the judge about every record (resuming saved replies) and write the weighted and the rejected records."""
    config.check()
    records, report = load_records(config.data, skip_bad_records=config.skip_bad_records)
    rejected_path, stage_dir = config.paths()
    prepare_output_file(config.output, "--output")
    make_dir(stage_dir, "the stage directory")
    generation = config.generation()
    judge = _AskingAgain(
        make_judge(
            config.judge,
            config.mode,
            config.endpoint(config.max_new_tokens),
            generation,
            config.prompt_format,
            config.trust_remote_code,
        ),
        config.mode,
        config.attempts,
    )
    store = StageStore(
        stage_dir,
        "judge",
        settings_key("judge", config.judge, config.mode, config.attempts, asdict(generation), JUDGE_TEMPLATE),
    )
    jobs = [
        Job(
            r["id"],
            {"prompt": query_text(r), "original": r["original_output"], "revised": r["revised_output"]},
            (query_text(r), r["original_output"], r["revised_output"]),
        )
        for r in records
    ]
    try:
        run_stage("judge", jobs, store, judge, _row, config.concurrency, config.batch_size)
    finally:
        store.close()
    weighed, rejected = [], [{"id": None, "reason": problem} for problem in report.skipped]
    for record in records:
        row = store.get(record["id"])
        kept = {name: value for name, value in record.items() if value is not None and name != "token_weights"}
        if "error" in row:
            rejected.append({**kept, "reason": row["error"]})
            continue
        weighed.append({**kept, "span_weights": row["span_weights"]})
    write_jsonl(rejected_path, rejected)
    if not weighed:
        raise FigaError(
            f"no record was weighed ({len(rejected)} rejected; the reasons are in {rejected_path}); "
            f"{config.output} was not written"
        )
    write_jsonl(config.output, weighed)
    return WeighResult(weighed, rejected, config.output)
