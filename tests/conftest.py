import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

# trackio reads TRACKIO_DIR once, when it is first imported (transformers may import it): set it before anything.
TRACKIO_DIR = os.environ.setdefault("TRACKIO_DIR", tempfile.mkdtemp(prefix="figa-test-trackio-"))


def pytest_unconfigure(config):
    if TRACKIO_DIR.startswith(tempfile.gettempdir()) and "figa-test-trackio-" in TRACKIO_DIR:
        shutil.rmtree(TRACKIO_DIR, ignore_errors=True)

from figa.testing import corpus, make_spa_records, save_tiny_model


@pytest.fixture(scope="session", autouse=True)
def figa_cache(tmp_path_factory):
    """Keep the datasets cache of preprocessed pairs out of the user's home."""
    path = tmp_path_factory.mktemp("figa-cache")
    os.environ["FIGA_CACHE"] = str(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return save_tiny_model(str(tmp_path_factory.mktemp("tiny") / "model"), corpus())


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return str(path)


@pytest.fixture
def spa_file(tmp_path):
    return write_jsonl(tmp_path / "spa.jsonl", make_spa_records(24))


def run_figa(*args, env=None, timeout=600):
    """Run the `figa` CLI as a user would, in a subprocess."""
    return subprocess.run([sys.executable, "-m", "figa", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
