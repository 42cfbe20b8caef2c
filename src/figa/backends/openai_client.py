"""Calls to OpenAI-compatible chat endpoints (OpenAI, vLLM, SGLang, llama.cpp server, Ollama).

The `openai` client retries timeouts, connection errors, 429 (honouring Retry-After) and 5xx with
exponential backoff and jitter. Replies that arrive but cannot be used (invalid JSON, no choices, empty
text) are retried here with the same kind of backoff. The API key comes only from the environment, and every reply
and error text is cleaned of it (`figa.redaction`) before anything else sees it.

httpx's timeout bounds each network read, not a whole request: a server that sends one byte at a time keeps a
request alive indefinitely. So each call also has a deadline for the whole request, retries included:
(`max_retries` + 1) x `timeout` plus the client's back-off between tries (0.5 s doubling, at most 8 s each) plus
one second.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from ..errors import FigaError
from ..redaction import redact, register_secret
from .protocols import ReplyError, ServerUnavailable, Truncated


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
    register_secret(os.environ.get(config.api_key_env))
    if api_key is None:
        raise FigaError(
            f"set the API key in the environment variable {config.api_key_env} "
            "(or point --openai_base_url at a local server)"
        )
    with _lock:
        key = (base_url, config.api_key_env, config.max_retries, config.timeout)
        if key not in _clients:
            _clients[key] = openai.OpenAI(
                base_url=base_url, api_key=api_key, max_retries=config.max_retries, timeout=config.timeout
            )
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
            reply = within_deadline(
                request_deadline(config),
                lambda seconds: unavailable(config, model, f"no complete reply within {seconds:g} s"),
                lambda: client(config).chat.completions.create(
                    model=model, messages=messages, temperature=config.temperature, max_tokens=config.max_tokens
                ),
            )
        except openai.APIStatusError as error:
            reason = f"HTTP {error.status_code}: {_short(redact(_server_message(error)))}"
            if error.status_code in RECORD_STATUSES:
                raise ReplyError(reason) from None
            if error.status_code in RETRIED_STATUSES or error.status_code >= 500:
                reason += f" (after {config.max_retries} client retries)"
            raise unavailable(config, model, reason) from None
        except (openai.APITimeoutError, openai.APIConnectionError) as error:
            raise unavailable(
                config, model, f"{type(error).__name__} after {config.max_retries} client retries"
            ) from None
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
        text = redact(text).strip()
        return Truncated(text) if choices[0].finish_reason == "length" else text
    raise ReplyError(f"{last}, {config.max_retries + 1} attempts")


RECORD_STATUSES = (400, 413, 422)  # the server refused this request (too long, malformed): the record's fault
RETRIED_STATUSES = (408, 409, 429)  # and 5xx: the `openai` client's own retries


def _server_message(error) -> str:
    """The server's own words: the `openai` client prefixes "Error code: N - " and the body."""
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return re.sub(r"^Error code: \d+ - ", "", error.message)


def unavailable(config: EndpointConfig, model: str, reason: str) -> ServerUnavailable:
    server = config.base_url or os.environ.get("OPENAI_BASE_URL") or "the OpenAI API"
    return ServerUnavailable(
        f"{server} (model {model}) did not answer: {reason}. Nothing is stored for the prompts it did not answer: "
        "run the same command again once the server answers (and the key, model name and rate limit are right)"
    )


def request_deadline(config: EndpointConfig) -> float:
    """Seconds one call may take in all, the client's retries and back-off included."""
    backoff = sum(min(0.5 * 2**i, 8.0) for i in range(config.max_retries))
    return (config.max_retries + 1) * config.timeout + backoff + 1.0  # a second's slack: the client's own timeouts
    # end an ordinary hang first, with their own message


def within_deadline(seconds: float, late: Callable[[float], Exception], call: Callable):
    """CALL's result, or `late(seconds)` raised when it has not finished within SECONDS. The call goes on in a
    daemon thread until its connection ends; its result is dropped, and it does not keep the process from exiting."""
    box: dict = {}
    finished = threading.Event()

    def target():
        try:
            box["value"] = call()
        except BaseException as error:  # handed to the caller below
            box["error"] = error
        finally:
            finished.set()

    threading.Thread(target=target, daemon=True).start()
    if not finished.wait(seconds):
        raise late(seconds)
    if "error" in box:
        raise box["error"]
    return box["value"]


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
