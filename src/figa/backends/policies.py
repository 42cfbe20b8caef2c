"""Policies: a model writes responses to query records (`hf`, `vllm` or `openai` back end; contracts in
`figa.backends.protocols`). Curation uses them for rollouts, evaluation for each compared model."""

from __future__ import annotations

import torch

from ..errors import FigaError
from ..modeling import ModelArguments, load_model, load_tokenizer
from ..prompts import adds_special_tokens, as_messages, render_prompt, resolve_format
from .generation import GenerationConfig
from .openai_client import EndpointConfig, chat
from .protocols import Truncated

POLICY_BACKENDS = ("hf", "vllm", "openai")


class HFPolicy:
    """transformers `generate`, batched with left padding."""

    per_record = False

    def __init__(self, model: str, generation: GenerationConfig, prompt_format: str = "auto",
                 trust_remote_code: bool = False, dtype: str = "auto"):
        self.tokenizer = load_tokenizer(model, trust_remote_code=trust_remote_code)
        self.tokenizer.padding_side = "left"
        self.model = load_model(ModelArguments(model_name_or_path=model, dtype=dtype,
                                               trust_remote_code=trust_remote_code)).eval()
        if torch.cuda.is_available():
            self.model.to("cuda")
        self.format = resolve_format(prompt_format, self.tokenizer)
        self.generation = generation

    @torch.no_grad()
    def batch(self, records: list[dict]) -> list[str]:
        texts = [render_prompt(r, self.format, self.tokenizer) for r in records]
        inputs = self.tokenizer(texts, return_tensors="pt", padding=True,
                                add_special_tokens=adds_special_tokens(self.format)).to(self.model.device)
        g = self.generation
        sampling = g.temperature > 0
        torch.manual_seed(g.seed)
        output = self.model.generate(**inputs, max_new_tokens=g.max_new_tokens, do_sample=sampling,
                                     temperature=g.temperature if sampling else None,
                                     top_p=g.top_p if sampling else None, top_k=None,
                                     repetition_penalty=g.repetition_penalty if g.repetition_penalty != 1.0 else None,
                                     pad_token_id=self.tokenizer.pad_token_id)
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
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
        self.params = SamplingParams(max_tokens=generation.max_new_tokens, temperature=generation.temperature,
                                     top_p=generation.top_p, seed=generation.seed,
                                     repetition_penalty=generation.repetition_penalty)

    def batch(self, records: list[dict]) -> list[str]:
        outputs = self.llm.chat([as_messages(r) for r in records], self.params, use_tqdm=False)
        return [o.outputs[0].text.strip() if o.outputs[0].finish_reason != "length"
                else Truncated(o.outputs[0].text.strip()) for o in outputs]


class OpenAIPolicy:
    """Any OpenAI-compatible chat endpoint; requests run concurrently."""

    per_record = True

    def __init__(self, model: str, endpoint: EndpointConfig):
        self.model, self.endpoint = model, endpoint

    def one(self, record: dict) -> str:
        return chat(self.endpoint, self.model, as_messages(record))


def make_policy(model: str, backend: str, generation: GenerationConfig, endpoint: EndpointConfig,
                prompt_format: str = "auto", trust_remote_code: bool = False):
    if backend == "hf":
        return HFPolicy(model, generation, prompt_format, trust_remote_code)
    if backend == "vllm":
        return VLLMPolicy(model, generation, trust_remote_code)
    if backend == "openai":
        return OpenAIPolicy(model, EndpointConfig(**{**endpoint.__dict__, "temperature": generation.temperature,
                                                     "max_tokens": generation.max_new_tokens}))
    raise FigaError(f"--policy_backend must be one of {', '.join(POLICY_BACKENDS)}, got {backend!r}")
