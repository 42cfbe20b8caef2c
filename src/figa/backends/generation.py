"""Generation settings shared by the commands that generate text: decoding, and OpenAI-compatible endpoints."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import FigaError
from ..prompts import FORMATS
from .openai_client import EndpointConfig


@dataclass
class GenerationConfig:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    seed: int = 0
    repetition_penalty: float = 1.0  # hf and vllm; 1.0: none


@dataclass
class GenerationOptions:
    max_new_tokens: int = field(default=256, metadata={"help": "Longest generated response, in tokens."})
    temperature: float = field(default=0.0, metadata={"help": "Sampling temperature (0: greedy)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})
    repetition_penalty: float = field(
        default=1.0,
        metadata={
            "help": "Penalty on tokens already seen (hf and vllm back ends; 1.0: none). transformers counts the "
            "prompt's tokens too, the end-of-turn token of a chat template among them, so a penalty can make answers "
            "longer."
        },
    )
    prompt_format: str = field(
        default="auto", metadata={"help": "Prompt rendering for hf generation.", "choices": list(FORMATS)}
    )
    batch_size: int = field(default=8, metadata={"help": "Batch size of local generation and reward models."})

    def check_generation(self) -> None:
        _at_least(self, {"max_new_tokens": 1, "batch_size": 1, "temperature": 0, "repetition_penalty": 1e-6})
        if not 0 < self.top_p <= 1:
            raise FigaError(f"--top_p must be above 0 and at most 1, got {self.top_p}")

    def generation(self) -> GenerationConfig:
        return GenerationConfig(self.max_new_tokens, self.temperature, self.top_p, self.seed, self.repetition_penalty)


@dataclass
class EndpointOptions:
    concurrency: int = field(default=8, metadata={"help": "Concurrent requests to OpenAI-compatible servers."})
    openai_base_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible server URL (default: $OPENAI_BASE_URL or OpenAI)."}
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY",
        metadata={"help": "Environment variable holding the API key (the key itself is never a flag)."},
    )
    max_retries: int = field(default=4, metadata={"help": "Retries per request (backoff with jitter)."})
    request_timeout: float = field(default=60.0, metadata={"help": "Seconds per request."})
    retry_base_delay: float = field(default=0.5, metadata={"help": "First backoff delay in seconds."})

    def check_endpoint(self) -> None:
        _at_least(self, {"concurrency": 1, "max_retries": 0, "request_timeout": 1e-3, "retry_base_delay": 0})

    def endpoint(self, max_tokens: int) -> EndpointConfig:
        return EndpointConfig(
            base_url=self.openai_base_url,
            api_key_env=self.api_key_env,
            max_retries=self.max_retries,
            timeout=self.request_timeout,
            retry_base_delay=self.retry_base_delay,
            max_tokens=max_tokens,
        )


def _at_least(options, lowest: dict[str, float]) -> None:
    for name, low in lowest.items():
        value = getattr(options, name)
        if not (math.isfinite(value) and value >= low):
            raise FigaError(f"--{name} must be a finite number of at least {low:g}, got {value}")
