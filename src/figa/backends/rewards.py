"""Reward back ends: `hf:MODEL` (sequence-classification reward model), `python:module:function`, and
`openai:MODEL` (an OpenAI-compatible judge that answers with a number from 0 to 10). Scores come in batches; a score
that is not a finite number (or a judge's rating outside 0 to 10) becomes NaN and the record is rejected with that
reason."""

from __future__ import annotations

import inspect
import math
import re

import torch

from ..errors import FigaError
from ..modeling import pad_with_eos
from .openai_client import EndpointConfig, chat, run_concurrently
from .protocols import ServerUnavailable
from .specs import load_callable, split_spec

REWARD_KINDS = ("hf", "python", "openai")
JUDGE_PROMPT = (
    "Rate how well the response answers the request, from 0 (useless or wrong) to 10 (excellent).\n\n"
    "Request:\n{prompt}\n\nResponse:\n{response}\n\nReply with the number only."
)


def finite(value) -> float | None:
    """The value as a float when it is a finite number, else None (NaN, inf, a string, a missing score)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _scores(values, spec: str, expected: int) -> list[float]:
    """A back end's scores as floats, NaN where a score is not a finite number."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__") or not hasattr(values, "__iter__"):
        raise FigaError(
            f"--reward {spec}: returned {type(values).__name__}; expected a list of {expected} scores, "
            "one per response"
        )
    values = list(values)
    if len(values) != expected:
        raise FigaError(f"--reward {spec}: returned {len(values)} scores for {expected} responses")
    return [math.nan if (score := finite(value)) is None else score for value in values]


class PythonReward:
    """A Python function, in either of two signatures (told apart by a parameter named `completions`):

    - figa's: `fn(prompts, responses[, references]) -> list[float]`, positional;
    - TRL's reward functions (as GRPOTrainer calls them): `fn(completions, prompts=..., **kwargs) -> list[float]`,
      by keyword: `prompts`, `completions`, and the reference answers as `output` (the SPA column) when the
      function takes it or `**kwargs`. So one reward file serves TRL's GRPO and figa.
    """

    def __init__(self, target: str):
        self.spec = f"python:{target}"
        self.fn = load_callable(target, "reward")
        params = inspect.signature(self.fn).parameters
        kinds = [p.kind for p in params.values()]
        self.trl_style = "completions" in params
        self.keywords = set(params) if inspect.Parameter.VAR_KEYWORD not in kinds else {"prompts", "output"}
        positional = [
            k for k in kinds if k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        self.takes_references = len(positional) >= 3 or inspect.Parameter.VAR_POSITIONAL in kinds

    def _call(self, prompts: list[str], responses: list[str], references: list[str | None]):
        if self.trl_style:
            extra = {"prompts": prompts, "output": references}
            return self.fn(completions=responses, **{k: v for k, v in extra.items() if k in self.keywords})
        return self.fn(*((prompts, responses, references) if self.takes_references else (prompts, responses)))

    def score(self, prompts: list[str], responses: list[str], references: list[str | None]) -> list[float]:
        try:
            values = self._call(prompts, responses, references)
        except Exception as error:  # the user's code: report it, do not hide it
            raise FigaError(f"--reward {self.spec} raised {type(error).__name__}: {error}") from None
        return _scores(values, self.spec, len(responses))


class HFReward:
    """A reward model scoring (prompt, response) as a text pair, or through its chat template when it has one."""

    def __init__(self, model: str, batch_size: int = 16, trust_remote_code: bool = False):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.spec = f"hf:{model}"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                model, trust_remote_code=trust_remote_code
            ).eval()
        except (OSError, ValueError) as error:
            raise FigaError(f"--reward hf:{model}: cannot load the reward model: {error}") from None
        pad_with_eos(self.tokenizer, f"--reward hf:{model}: the tokenizer")  # the classifier reads the last non-pad
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        if torch.cuda.is_available():
            self.model.to("cuda")
        self.batch_size = batch_size

    @torch.no_grad()
    def score(self, prompts: list[str], responses: list[str], references=None) -> list[float]:
        scores = []
        for i in range(0, len(prompts), self.batch_size):
            p, r = prompts[i : i + self.batch_size], responses[i : i + self.batch_size]
            if getattr(self.tokenizer, "chat_template", None):
                texts = [
                    self.tokenizer.apply_chat_template(
                        [{"role": "user", "content": a}, {"role": "assistant", "content": b}], tokenize=False
                    )
                    for a, b in zip(p, r)
                ]
                inputs = self.tokenizer(
                    texts, padding=True, truncation=True, return_tensors="pt", add_special_tokens=False
                )
            else:
                inputs = self.tokenizer(p, r, padding=True, truncation=True, return_tensors="pt")
            logits = self.model(**inputs.to(self.model.device)).logits
            scores += logits[:, 0].float().cpu().tolist()
        return _scores(scores, self.spec, len(responses))


class OpenAIJudge:
    """An OpenAI-compatible chat model asked for a 0-10 rating (JUDGE_PROMPT), scaled to 0-1."""

    def __init__(self, model: str, endpoint: EndpointConfig, concurrency: int = 8):
        self.spec, self.model, self.endpoint, self.concurrency = f"openai:{model}", model, endpoint, concurrency

    def _one(self, item: tuple[str, str]) -> float:
        reply = chat(
            self.endpoint,
            self.model,
            [{"role": "user", "content": JUDGE_PROMPT.format(prompt=item[0], response=item[1])}],
        )
        match = re.search(r"-?\d+(?:\.\d+)?", reply)
        rating = float(match.group()) if match else math.nan
        return rating / 10 if 0 <= rating <= 10 else math.nan  # outside the scale asked for: not a score

    def score(self, prompts: list[str], responses: list[str], references=None) -> list[float]:
        items = list(enumerate(zip(prompts, responses)))
        scores = [math.nan] * len(items)

        def done(item, result):
            if isinstance(result, ServerUnavailable):
                raise result  # not the response's score: the run stops, nothing is stored for it
            scores[item[0]] = math.nan if isinstance(result, Exception) else result

        run_concurrently(items, lambda item: self._one(item[1]), done, self.concurrency)
        return scores


def make_reward(
    spec: str, endpoint: EndpointConfig, batch_size: int = 16, trust_remote_code: bool = False, concurrency: int = 8
):
    kind, rest = split_spec(spec, REWARD_KINDS, "reward")
    if kind == "python":
        return PythonReward(rest)
    if kind == "hf":
        return HFReward(rest, batch_size, trust_remote_code)
    return OpenAIJudge(rest, endpoint, concurrency)
