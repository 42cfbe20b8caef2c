"""Calls to OpenAI-compatible chat endpoints (OpenAI, vLLM, SGLang, llama.cpp server, Ollama).

The `openai` client retries timeouts, connection errors, 429 (honouring Retry-After) and 5xx with
exponential backoff and jitter. Replies that arrive but cannot be used (invalid JSON, no choices, empty
text) are retried here with the same kind of backoff. The API key comes only from the environment.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from ..errors import FigaError
from .protocols import ReplyError, Truncated


@dataclass
class EndpointConfig:
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_retries: int = 4
    timeout: float = 60.0
    retry_base_delay: float = 0.5
    temperature: float = 0.0
    max_tokens: int = 512


_clients: dict = {}
_lock = threading.Lock()


def client(config: EndpointConfig):
    try:
        import openai
    except ImportError:
        raise FigaError("the openai back end needs the `openai` package: pip install 'figa-align[openai]'") from None
    base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
    api_key = os.environ.get(config.api_key_env) or ("EMPTY" if base_url else None)
    if api_key is None:
        raise FigaError(f"set the API key in the environment variable {config.api_key_env} "
                        "(or point --openai_base_url at a local server)")
    with _lock:
        key = (base_url, config.api_key_env, config.max_retries, config.timeout)
        if key not in _clients:
            _clients[key] = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=config.max_retries,
                                          timeout=config.timeout)
        return _clients[key]


def chat(config: EndpointConfig, model: str, messages: list[dict]) -> str:
    """The reply text, stripped (a `Truncated` one when the server stopped it at `max_tokens`); raises
    `ReplyError` once the retry budget is spent."""
    import openai

    last = "no attempt"
    for attempt in range(config.max_retries + 1):
        if attempt:
            time.sleep(config.retry_base_delay * 2 ** (attempt - 1) * (0.5 + random.random()))
        try:
            reply = client(config).chat.completions.create(model=model, messages=messages,
                                                           temperature=config.temperature,
                                                           max_tokens=config.max_tokens)
        except openai.APIStatusError as error:
            if error.status_code < 500 and error.status_code not in (408, 409, 429):
                raise ReplyError(f"HTTP {error.status_code}: {_short(redact(error.message, config))}") from None
            raise ReplyError(f"HTTP {error.status_code} after {config.max_retries} client retries") from None
        except (openai.APITimeoutError, openai.APIConnectionError) as error:
            raise ReplyError(f"{type(error).__name__} after {config.max_retries} client retries") from None
        except (openai.APIResponseValidationError, ValueError) as error:
            last = f"unparsable reply ({type(error).__name__})"
            continue
        choices = getattr(reply, "choices", None)
        if not choices:
            last = "reply with no choices"
            continue
        text = choices[0].message.content if choices[0].message else None
        if not text or not text.strip():
            last = "empty reply"
            continue
        return Truncated(text.strip()) if choices[0].finish_reason == "length" else text.strip()
    raise ReplyError(f"{last}, {config.max_retries + 1} attempts")


def redact(text: str, config: EndpointConfig) -> str:
    """Remove the API key from text that came back from a server (some echo it in their errors)."""
    key = os.environ.get(config.api_key_env)
    return text.replace(key, "***") if key else text


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def run_concurrently(items: Iterable, work: Callable, done: Callable, concurrency: int) -> None:
    """Run `work(item)` on up to `concurrency` threads; call `done(item, result_or_exception)` as each ends."""
    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        futures = {pool.submit(work, item): item for item in items}
        for future in as_completed(futures):
            error = future.exception()
            done(futures[future], error if error is not None else future.result())
    finally:  # on Ctrl-C or an error, drop the queued requests instead of waiting for them
        pool.shutdown(wait=False, cancel_futures=True)
