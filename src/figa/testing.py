"""Tiny random models and tokenizers built locally, for tests and offline examples (no hub access)."""

from __future__ import annotations

from collections.abc import Iterable

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def build_tokenizer(texts: Iterable[str], vocab_size: int = 400, chat_template: bool = True):
    """A byte-level BPE tokenizer trained on `texts`, with <s>, </s>, <pad>, <unk> and a small chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>"]
    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    core.train_from_iterator(list(texts), trainer=trainer)
    core.post_processor = processors.TemplateProcessing(  # prepend BOS, as Llama-style tokenizers do
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", core.token_to_id("<s>"))]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(tokenizer, hidden_size: int = 32, num_layers: int = 2, seed: int = 0):
    """A random Llama-style causal LM sized for `tokenizer`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config)


def save_tiny_model(path: str, texts: Iterable[str], **kwargs) -> str:
    """Build a tiny model and tokenizer and save both to `path` (loadable with `from_pretrained`)."""
    tokenizer = build_tokenizer(texts)
    model = build_model(tokenizer, **kwargs)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


ANIMALS = ["cat", "dog", "bird", "fox", "horse", "mouse", "rabbit", "goat"]
PLACES = ["mat", "sofa", "roof", "hill", "bed", "chair", "table", "rug"]
FILLERS = ["it was a quiet day.", "the sun was warm.", "nobody was around.", "then it fell asleep."]


def make_spa_records(n: int, seed: int = 0) -> list[dict]:
    """`n` small SPA records: a question, an answer with a wrong word or an extra clause, and its minimal fix.

    Lengths vary (0-3 filler sentences) so batches have unequal token counts.
    """
    import random

    rng = random.Random(seed)
    records = []
    for i in range(n):
        animal, place, wrong = rng.choice(ANIMALS), rng.choice(PLACES), rng.choice(PLACES)
        while wrong == place:
            wrong = rng.choice(PLACES)
        filler = " ".join(rng.sample(FILLERS, rng.randint(0, 3)))
        revised = f"the {animal} sat on the {place}. {filler}".strip()
        if i % 3 == 2:  # an inserted clause the revision deletes
            original = f"the {animal} sat on the {place} and the {wrong}. {filler}".strip()
        else:  # a substituted word
            original = f"the {animal} sat on the {wrong}. {filler}".strip()
        records.append(
            {
                "id": f"ex-{i}",
                "prompt": f"where did the {animal} sit? it was on the {place}.",
                "original_output": original,
                "revised_output": revised,
            }
        )
    return records


def corpus() -> list[str]:
    """Sentences to train a tiny tokenizer that covers `make_spa_records`."""
    texts = [
        f"where did the {a} sit? it was on the {p}. the {a} sat on the {p} and the {q}."
        for a in ANIMALS
        for p in PLACES
        for q in PLACES[:2]
    ]
    return texts + FILLERS
