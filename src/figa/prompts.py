"""Prompt rendering: the tokenizer's chat template, the Alpaca template, or plain text.

`auto` (the default) uses the chat template when the tokenizer has one; otherwise the Alpaca
template for `instruction` records and plain text for the others.
"""

from __future__ import annotations

from .errors import FigaError

FORMATS = ("auto", "chat", "alpaca", "plain")

# The Alpaca templates (Taori et al., 2023), as used by the FIGA paper.
ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)


def resolve_format(prompt_format: str, tokenizer) -> str:
    if prompt_format not in FORMATS:
        raise FigaError(f"unknown prompt_format {prompt_format!r}; choose one of {', '.join(FORMATS)}")
    if prompt_format == "chat" and not getattr(tokenizer, "chat_template", None):
        raise FigaError(
            "prompt_format 'chat' needs a tokenizer with a chat template; this one has none "
            "(use --prompt_format alpaca or plain)"
        )
    if prompt_format == "auto":
        return "chat" if getattr(tokenizer, "chat_template", None) else "auto"
    return prompt_format


def _user_text(record: dict) -> str:
    """The query as one user message (for chat templates)."""
    if record.get("instruction") is not None:
        return record["instruction"] + (f"\n\n{record['input']}" if record.get("input") else "")
    return record["prompt"]


def as_messages(record: dict) -> list[dict]:
    if record.get("messages") is not None:
        return record["messages"]
    return [{"role": "user", "content": _user_text(record)}]


def _alpaca(record: dict) -> str:
    if record.get("instruction") is not None:
        instruction, extra = record["instruction"], record.get("input") or ""
    elif record.get("messages") is not None:
        turns = [m for m in record["messages"] if m["role"] != "system"]
        if len(turns) != 1:
            raise FigaError(
                "the Alpaca template renders single-turn queries; a record has a multi-turn chat "
                "(use --prompt_format chat)"
            )
        instruction, extra = turns[0]["content"], ""
    else:
        instruction, extra = record["prompt"], ""
    template = ALPACA_WITH_INPUT if extra else ALPACA_NO_INPUT
    return template.format(instruction=instruction, input=extra)


def query_text(record: dict) -> str:
    """The query as plain text (for reward models, judges and revisers)."""
    if record.get("messages") is not None:
        return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in record["messages"])
    return _user_text(record)


def apply_template(tokenizer, messages: list[dict], record: dict, **options) -> str:
    """The tokenizer's chat template applied to MESSAGES (of RECORD); a template that refuses them (many raise on
    roles that do not alternate, or on a system turn) is a `FigaError` naming the record."""
    from jinja2 import TemplateError

    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, **options)
    except TemplateError as error:
        raise FigaError(
            f"record {record.get('id')!r}: field 'messages': the tokenizer's chat template refuses them: {error}"
        ) from None


def render_prompt(record: dict, prompt_format: str, tokenizer) -> str:
    """The prompt text the policy sees before its response; `prompt_format` as returned by `resolve_format`."""
    if prompt_format == "chat":
        return apply_template(tokenizer, as_messages(record), record, add_generation_prompt=True)
    if prompt_format == "alpaca" or (prompt_format == "auto" and record.get("instruction") is not None):
        return _alpaca(record)
    return query_text(record) + ("\n\nAssistant: " if record.get("messages") is not None else "")


def adds_special_tokens(prompt_format: str) -> bool:
    """Chat templates write their own BOS; the other formats let the tokenizer add it."""
    return prompt_format != "chat"
