"""The contracts of the back ends: what a policy, a reward and a reviser take and return.

Every back end is one of two shapes, told apart by its `per_record` attribute: a *batch* back end
(`per_record = False`) takes a list and returns a list of the same length in the same order, and runs on the
caller's thread (local models); a *per-record* back end (`per_record = True`) takes one item and is called
concurrently from a thread pool (remote endpoints, user code). The stage runner (`figa.backends.stages`)
drives both the same way and saves each result as soon as it exists.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import FigaError


class Truncated(str):
    """A generated text that hit the token limit before the model ended it (`max_new_tokens` for hf and vllm,
    `finish_reason == "length"` for OpenAI-compatible servers). It is a `str`, so code that does not care reads it
    as text; curation rejects it by default, because training on it would teach the model to stop mid-answer."""


class ReplyError(Exception):
    """A request that failed for good (after its retries) because of the record (the server refused it as a bad
    request, or answered with nothing usable): the record is rejected with this reason."""


class ServerUnavailable(FigaError):
    """A server that answered no request after its retries for a reason that is not the record's (down, timing
    out, refusing the key, unknown model, rate limit, server error): the run stops with this message, and nothing
    is stored for the records it did not answer, so the same command run again once the server answers finishes
    the work."""


class BatchPolicy(Protocol):
    """Writes responses to query records (SPA query fields: `prompt` | `messages` | `instruction` [+ `input`])."""

    per_record: bool = False

    def batch(self, records: list[dict]) -> list[str]:
        """One response per record, stripped; a `Truncated` one when it was cut at the token limit."""


class RecordPolicy(Protocol):
    """The per-record shape of a policy (an OpenAI-compatible endpoint)."""

    per_record: bool = True

    def one(self, record: dict) -> str:
        """The response to one query record (or `Truncated`); raises `ReplyError` when it failed for good."""


class Reward(Protocol):
    """Scores responses to prompts; higher is better."""

    spec: str  # how the user named it, e.g. "python:mymodule:score", for messages

    def score(self, prompts: list[str], responses: list[str], references: list[str | None]) -> list[float]:
        """One float per response, in order; NaN where no finite score could be had (the record is then rejected,
        never trained or compared on). `references` are the optional reference answers (None where absent)."""


class Reviser(Protocol):
    """Edits a response as little as possible into a good one (per-record or batch shape, as policies)."""

    per_record: bool

    def one(self, item: dict) -> str:
        """`item` has `prompt` (text), `original` (the policy's response), `reference` (or None) and `target`
        (the reward the revision should reach); returns the revised text, or raises `ReplyError`."""
