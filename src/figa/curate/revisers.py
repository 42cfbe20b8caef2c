"""Revisers: edit the policy's response as little as possible into a good one.

`openai:MODEL` and `hf:MODEL` ask a model with REVISION_TEMPLATE (yours with --revision_template);
`reference-edit` needs no model: it applies the fewest word-level edits toward the reference that raise the
reward past the target; `python:module:function` calls `fn(prompt, original, reference) -> str`.
Each reviser takes items {"prompt", "original", "reference", "target"} and returns the revised text (the
`Reviser` contract in `figa.backends.protocols`).
"""

from __future__ import annotations

import re

from rapidfuzz.distance import Levenshtein

from ..backends.generation import GenerationConfig
from ..backends.openai_client import EndpointConfig, chat
from ..backends.policies import HFPolicy
from ..backends.protocols import ReplyError
from ..backends.specs import load_callable, split_spec
from ..errors import FigaError

REVISER_KINDS = ("openai", "hf", "reference-edit", "python")
REVISION_TEMPLATE = (
    "Revise the response below with the smallest possible edit. Fix what is wrong, missing or unhelpful, and "
    "keep every part that is already fine exactly as written. Reply with the revised response only.\n\n"
    "Request:\n{prompt}\n\n{reference_block}Response to revise:\n{original}"
)
REFERENCE_BLOCK = "A reference answer, for guidance (do not copy it wholesale):\n{reference}\n\n"


def fill_template(template: str, item: dict) -> str:
    block = REFERENCE_BLOCK.format(reference=item["reference"]) if item.get("reference") else ""
    return template.format(prompt=item["prompt"], original=item["original"], reference_block=block)


class OpenAIReviser:
    per_record = True

    def __init__(self, model: str, endpoint: EndpointConfig, template: str):
        self.model, self.endpoint, self.template = model, endpoint, template

    def one(self, item: dict) -> str:
        return chat(
            self.endpoint, self.model, [{"role": "user", "content": fill_template(self.template, item)}]
        ).strip()


class HFReviser:
    per_record = False

    def __init__(self, model: str, template: str, generation: GenerationConfig, trust_remote_code: bool = False):
        self.policy = HFPolicy(model, generation, "auto", trust_remote_code)
        self.template = template

    def batch(self, items: list[dict]) -> list[str]:
        return self.policy.batch([{"prompt": fill_template(self.template, item)} for item in items])


_PIECE = re.compile(r"\S+\s*|\s+")


class ReferenceEditReviser:
    """Greedy: among the blocks of the word-level edit script original -> reference, apply the one that gives
    the highest reward, and repeat until the reward reaches the item's target (or the text is the reference)."""

    per_record = True

    def __init__(self, reward):
        self.reward = reward

    def one(self, item: dict) -> str:
        if not item.get("reference"):
            raise ReplyError("reference-edit needs a reference answer (field 'output'), and this prompt has none")
        source, target = _PIECE.findall(item["original"]), _PIECE.findall(item["reference"])
        blocks = [op for op in Levenshtein.opcodes(source, target) if op.tag != "equal"]

        def apply(chosen: set[int]) -> str:
            pieces, last = [], 0
            for index, op in enumerate(blocks):
                pieces += source[last : op.src_start]
                pieces += target[op.dest_start : op.dest_end] if index in chosen else source[op.src_start : op.src_end]
                last = op.src_end
            return "".join(pieces + source[last:]).strip()

        chosen: set[int] = set()
        while len(chosen) < len(blocks):
            options = [i for i in range(len(blocks)) if i not in chosen]
            texts = [apply(chosen | {i}) for i in options]
            scores = self.reward.score([item["prompt"]] * len(texts), texts, [item["reference"]] * len(texts))
            best = max(range(len(options)), key=lambda k: (scores[k] == scores[k], scores[k], -k))
            chosen.add(options[best])
            if scores[best] >= item["target"]:
                break
        return apply(chosen)


class PythonReviser:
    per_record = True

    def __init__(self, target: str):
        self.spec, self.fn = f"python:{target}", load_callable(target, "reviser")

    def one(self, item: dict) -> str:
        try:
            text = self.fn(item["prompt"], item["original"], item.get("reference"))
        except Exception as error:  # the user's code: the record is rejected with the reason
            raise ReplyError(f"{self.spec} raised {type(error).__name__}: {error}") from None
        if not isinstance(text, str):
            raise ReplyError(f"{self.spec} returned {type(text).__name__}, not a string")
        return text


def make_reviser(
    spec: str,
    reward,
    endpoint: EndpointConfig,
    template: str,
    generation: GenerationConfig,
    trust_remote_code: bool = False,
):
    kind, rest = split_spec(spec, REVISER_KINDS, "reviser")
    if kind == "openai":
        return OpenAIReviser(rest, endpoint, template)
    if kind == "hf":
        return HFReviser(rest, template, generation, trust_remote_code)
    if kind == "python":
        return PythonReviser(rest)
    return ReferenceEditReviser(reward)


def check_template(template: str, source: str = "the revision template") -> str:
    """TEMPLATE, once it is known to fill: {prompt} and {original} present, no other field, literal braces
    doubled ({{ and }}), as `str.format` needs."""
    for name in ("{prompt}", "{original}"):
        if name not in template:
            raise FigaError(f"{source}: must contain {name}")
    try:
        fill_template(template, {"prompt": "", "original": "", "reference": "x"})
    except (KeyError, IndexError, ValueError) as error:
        problem = f"unknown field {{{error.args[0]}}}" if isinstance(error, KeyError) else str(error)
        raise FigaError(
            f"{source}: {problem}; the fields are {{prompt}}, {{original}} and {{reference_block}}, "
            "and a literal brace is written twice: {{ or }}"
        ) from None
    return template
