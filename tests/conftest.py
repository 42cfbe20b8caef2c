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


from figa.testing import corpus, make_spa_records, save_tiny_model  # noqa: E402  (after TRACKIO_DIR)


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
    return subprocess.run(
        [sys.executable, "-m", "figa", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# Shared by the test modules (no test module imports another).

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "sk-test-DO-NOT-LEAK-7f3a9"
PAIRS = [
    ("cat", "mat"),
    ("dog", "rug"),
    ("fox", "hill"),
    ("bird", "roof"),
    ("goat", "bed"),
    ("horse", "sofa"),
    ("mouse", "chair"),
    ("rabbit", "table"),
]


def prompts_file(tmp_path, extra=()):
    rows = [{"id": f"p{i}", "prompt": f"write one sentence. mention {a} and {b}."} for i, (a, b) in enumerate(PAIRS)]
    rows.append(
        {"id": "ref", "prompt": "write one sentence. mention cat and hill.", "output": "the cat sat on the hill today"}
    )
    rows += list(extra)
    return write_jsonl(tmp_path / "prompts.jsonl", rows)


def read(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def curate_args(model_dir, prompts, out, url, *extra):
    return [
        "curate",
        "--prompts",
        prompts,
        "--output_dir",
        str(out),
        "--policy",
        model_dir,
        "--reward",
        "python:tests.curation_helpers:keyword_reward",
        "--reviser",
        "openai:test-reviser",
        "--openai_base_url",
        url,
        "--max_new_tokens",
        "8",
        "--max_edit_ratio",
        "2.0",
        "--max_retries",
        "3",
        "--retry_base_delay",
        "0.01",
        "--request_timeout",
        "5",
        "--keep_truncated",
        *map(str, extra),
    ]


@pytest.fixture
def in_repo(monkeypatch):
    """Run from the repository, where `python:tests.curation_helpers:...` specs import from."""
    monkeypatch.chdir(REPO)


CHROMIUM = os.environ.get("FIGA_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("FIGA_REQUIRE_BROWSER"):
            pytest.fail(f"no Chromium at {CHROMIUM} (install Debian's chromium package)")
        pytest.skip("no Chromium here (CI installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def open_page(browser, path):
    page = browser.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    page.goto(f"file://{path}")
    return page, errors
