"""Judges for `figa weigh`: a model shown the request, the original and the revision, asked which parts of the
original are wrong and which parts of the revision fix them (`openai:MODEL` or `hf:MODEL`).

A span judge returns the reply text; `figa.weigh.replies` reads it. (A reward judge, which answers with one
rating, is `figa.backends.rewards.OpenAIJudge`: another contract, another name.) `attempt` > 0 asks again after an
unusable reply: the OpenAI judge repeats the request (servers do not answer twice alike), the hf judge samples
(temperature 0.7, a seed per attempt), since greedy decoding would repeat the same reply.
"""

from __future__ import annotations

from dataclasses import replace

from ..backends.generation import GenerationConfig
from ..backends.openai_client import EndpointConfig, chat
from ..backends.policies import HFPolicy
from ..backends.specs import split_spec

JUDGE_KINDS = ("openai", "hf")
RETRY_TEMPERATURE = 0.7

_SHAPE = {
    "binary": '{"wrong": ["<text copied from the response>", ...], "fixes": ["<text copied from the revision>", ...]}',
    "weighted": '{"wrong": [{"text": "<text copied from the response>", "score": <how wrong, 0 to 1>}, ...], '
    '"fixes": [{"text": "<text copied from the revision>", "score": <how much it helps, 0 to 1>}, '
    "...]}",
}
JUDGE_TEMPLATE = (
    "Compare a response with its revision. List the parts of the response that are wrong, missing something or "
    "unhelpful, and the parts of the revision that fix them.\n\n"
    "Request:\n{prompt}\n\nResponse:\n{original}\n\nRevision:\n{revised}\n\n"
    "Reply with JSON only, in this form:\n{shape}\n"
    "Copy each text exactly, a few words each. Leave out the parts that are the same in both."
)


def judge_prompt(item: dict, mode: str) -> str:
    return JUDGE_TEMPLATE.format(
        prompt=item["prompt"], original=item["original"], revised=item["revised"], shape=_SHAPE[mode]
    )


class OpenAISpanJudge:
    per_record = True

    def __init__(self, model: str, endpoint: EndpointConfig, mode: str):
        self.model, self.endpoint, self.mode = model, endpoint, mode

    def one(self, item: dict, attempt: int = 0) -> str:
        return chat(self.endpoint, self.model, [{"role": "user", "content": judge_prompt(item, self.mode)}])


class HFSpanJudge:
    per_record = False

    def __init__(
        self,
        model: str,
        generation: GenerationConfig,
        mode: str,
        prompt_format: str = "auto",
        trust_remote_code: bool = False,
    ):
        self.policy = HFPolicy(model, generation, prompt_format, trust_remote_code)
        self.greedy, self.mode = generation, mode

    def batch(self, items: list[dict], attempt: int = 0) -> list[str]:
        self.policy.generation = (
            self.greedy
            if attempt == 0
            else replace(self.greedy, temperature=RETRY_TEMPERATURE, seed=self.greedy.seed + attempt)
        )
        return self.policy.batch([{"prompt": judge_prompt(item, self.mode)} for item in items])


def make_judge(
    spec: str,
    mode: str,
    endpoint: EndpointConfig,
    generation: GenerationConfig,
    prompt_format: str = "auto",
    trust_remote_code: bool = False,
):
    kind, model = split_spec(spec, JUDGE_KINDS, "judge")
    if kind == "openai":
        return OpenAISpanJudge(model, endpoint, mode)
    return HFSpanJudge(model, generation, mode, prompt_format, trust_remote_code)
