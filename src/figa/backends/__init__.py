"""Back ends: the models and services that generate and score text, and the resumable stage runner.

Policies (`hf`, `vllm`, `openai`), rewards (`hf:`, `python:`, `openai:` judge), the OpenAI client wrapper,
generation settings, the stage store and runner. Their contracts are in `protocols`. Curation and evaluation
both build on this layer; it knows nothing of either.
"""

from .protocols import BatchPolicy, RecordPolicy, ReplyError, Reviser, Reward, Truncated

__all__ = ["BatchPolicy", "RecordPolicy", "ReplyError", "Reviser", "Reward", "Truncated"]
