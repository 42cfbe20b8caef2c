"""Policies: a model writes responses to query records (`hf`, `vllm` or `openai` back end; contracts in
`figa.backends.protocols`). Curation uses them for rollouts, evaluation for each compared model."""

from __future__ import annotations

import torch

from ..errors import FigaError, RecordError
from ..modeling import ModelArguments, load_model, load_tokenizer
from ..prompts import adds_special_tokens, as_messages, render_prompt, resolve_format
from ..records import QUERY_FIELDS
from .generation import GenerationConfig
from .openai_client import EndpointConfig, chat
from .protocols import Truncated

POLICY_BACKENDS = ("hf", "vllm", "openai")
POLICY_BACKEND_HELP = (
    "hf: transformers' generate, in process; vllm: vLLM in process (not run by figa's tests: no vLLM on their "
    "machines); openai: any OpenAI-compatible server at --openai_base_url (vllm serve, SGLang, llama.cpp, "
    "transformers serve; tested against transformers serve)."
)


class HFPolicy:
    """transformers `generate`, batched with left padding."""

    per_record = False

    def __init__(
        self,
        model: str,
        generation: GenerationConfig,
        prompt_format: str = "auto",
        trust_remote_code: bool = False,
        dtype: str = "auto",
    ):
        self.tokenizer = load_tokenizer(model, trust_remote_code=trust_remote_code)
        self.tokenizer.padding_side = "left"
        self.model = load_model(
            ModelArguments(model_name_or_path=model, dtype=dtype, trust_remote_code=trust_remote_code)
        ).eval()
        if torch.cuda.is_available():
            self.model.to("cuda")
        self.format = resolve_format(prompt_format, self.tokenizer)
        self.generation = generation

    def context(self) -> int | None:
        """The longest sequence the model takes (prompt and response), None when its config does not say."""
        return getattr(self.model.config, "max_position_embeddings", None)

    def prompt_problems(self, records: list[dict]) -> dict[int, str]:
        """{index: problem} for the records whose prompt, with `max_new_tokens` after it, exceeds the model's
        context: generating for one of them fails (or allocates memory for all of the batch)."""
        context = self.context()
        if not context:
            return {}
        texts = [render_prompt(record, self.format, self.tokenizer) for record in records]
        ids = self.tokenizer(texts, add_special_tokens=adds_special_tokens(self.format))["input_ids"] if texts else []
        problems = {}
        for index, length in enumerate(map(len, ids)):
            if length + self.generation.max_new_tokens > context:
                problems[index] = (
                    f"the prompt has {length} tokens; with max_new_tokens="
                    f"{self.generation.max_new_tokens} that exceeds the model's context of {context}"
                )
        return problems

    @torch.no_grad()
    def batch(self, records: list[dict]) -> list[str]:
        texts = [render_prompt(r, self.format, self.tokenizer) for r in records]
        inputs = self.tokenizer(
            texts, return_tensors="pt", padding=True, add_special_tokens=adds_special_tokens(self.format)
        ).to(self.model.device)
        g = self.generation
        sampling = g.temperature > 0
        torch.manual_seed(g.seed)
        output = self.model.generate(
            **inputs,
            max_new_tokens=g.max_new_tokens,
            do_sample=sampling,
            temperature=g.temperature if sampling else None,
            top_p=g.top_p if sampling else None,
            top_k=None,
            repetition_penalty=g.repetition_penalty if g.repetition_penalty != 1.0 else None,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        ended = (new_tokens == self.tokenizer.eos_token_id).any(dim=1).tolist()
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [t.strip() if done else Truncated(t.strip()) for t, done in zip(texts, ended)]


class VLLMPolicy:
    """vLLM offline generation (GPU), when the `vllm` package is installed."""

    per_record = False

    def __init__(self, model: str, generation: GenerationConfig, trust_remote_code: bool = False):
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise FigaError("the vllm back end needs the `vllm` package (GPU): pip install vllm") from None
        self.llm = LLM(model=model, trust_remote_code=trust_remote_code, seed=generation.seed)
        self.params = SamplingParams(
            max_tokens=generation.max_new_tokens,
            temperature=generation.temperature,
            top_p=generation.top_p,
            seed=generation.seed,
            repetition_penalty=generation.repetition_penalty,
        )

    def batch(self, records: list[dict]) -> list[str]:
        outputs = self.llm.chat([as_messages(r) for r in records], self.params, use_tqdm=False)
        return [
            o.outputs[0].text.strip()
            if o.outputs[0].finish_reason != "length"
            else Truncated(o.outputs[0].text.strip())
            for o in outputs
        ]


class OpenAIPolicy:
    """Any OpenAI-compatible chat endpoint; requests run concurrently."""

    per_record = True

    def __init__(self, model: str, endpoint: EndpointConfig):
        self.model, self.endpoint = model, endpoint

    def one(self, record: dict) -> str:
        return chat(self.endpoint, self.model, as_messages(record))


def prompts_too_long(policy, records: list[dict], lines: list[int], source: str, skip: bool) -> dict[str, str]:
    """{record id: reason} of the records whose prompt does not fit the policy's context (none for back ends that
    do not say). Without SKIP the first is a `RecordError` naming the file, the line and the query field."""
    problems = policy.prompt_problems(records) if hasattr(policy, "prompt_problems") else {}
    reasons = {}
    for index, problem in problems.items():
        field_name = next(name for name in QUERY_FIELDS if records[index].get(name) is not None)
        error = RecordError(source, lines[index], field_name, problem)
        if not skip:
            raise error
        reasons[records[index]["id"]] = str(error)
    return reasons


def make_policy(
    model: str,
    backend: str,
    generation: GenerationConfig,
    endpoint: EndpointConfig,
    prompt_format: str = "auto",
    trust_remote_code: bool = False,
    dtype: str = "auto",
):
    if backend == "hf":
        return HFPolicy(model, generation, prompt_format, trust_remote_code, dtype)
    if backend == "vllm":
        return VLLMPolicy(model, generation, trust_remote_code)
    if backend == "openai":
        return OpenAIPolicy(
            model,
            EndpointConfig(
                **{**endpoint.__dict__, "temperature": generation.temperature, "max_tokens": generation.max_new_tokens}
            ),
        )
    raise FigaError(f"--policy_backend must be one of {', '.join(POLICY_BACKENDS)}, got {backend!r}")
