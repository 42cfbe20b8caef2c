"""`figa view`: the page is checked in a real headless Chromium (Debian's `chromium`, driven by Playwright)."""

import json
import re

from figa.cli import main
from figa.testing import make_spa_records

from .conftest import open_page, write_jsonl

XSS = "<script>window.__xss=1</script>"
KNOWN = [
    {
        "id": "a",
        "prompt": "name an animal",
        "original_output": "the cat sat",
        "revised_output": "the dog sat down",
        "rewards": {"original": 0.2, "revised": 0.8},
    },
    {
        "id": "b",
        "prompt": "greet",
        "original_output": "hello world.",
        "revised_output": "hello, world.",
        "rewards": {"original": 0.4, "revised": 0.6},
    },
    {
        "id": "c",
        "prompt": '<img src=x onerror="window.__xss=2">',
        "original_output": f"ok {XSS}",
        "revised_output": "ok",
        "rewards": {"original": 0.0, "revised": 1.0},
    },
]


def test_page_shows_counts_of_a_known_file_and_escapes_everything(browser, tmp_path, capsys):
    out = tmp_path / "view.html"
    assert main(["view", write_jsonl(tmp_path / "spa.jsonl", KNOWN), "-o", str(out)]) == 0
    assert "3 pairs" in capsys.readouterr().out
    page, errors = open_page(browser, out)
    summary = page.inner_text("#summary")
    # word pieces: "the| cat| sat" -> "the| dog| sat| down" is 1 substitution + 1 addition; "hello|," adds 1;
    # "ok| <|script|>|window|.|__xss|=|1|<|/|script|>" -> "ok" deletes 12.
    for expected in (
        "pairs: 3",
        "added: 2",
        "deleted: 12",
        "substituted: 1 → 1",
        "mean reward original: 0.200",
        "mean reward revised: 0.800",
    ):
        assert expected in summary
    assert page.inner_text("#status") == "Showing 1–3 of 3 pairs"
    card = page.locator("article[data-id=c]")
    assert card.locator(".text.original").inner_text() == f"ok {XSS}"
    assert card.locator(".prompt").inner_text() == KNOWN[2]["prompt"]
    assert page.locator("#pairs img, #pairs script").count() == 0
    assert page.evaluate("window.__xss") is None
    assert card.locator(".text.original .del").count() == 12
    page.screenshot(path=str(tmp_path / "view.png"), full_page=True)
    assert (tmp_path / "view.png").stat().st_size > 10_000
    assert errors == []


def test_search_and_paging_over_many_pairs(browser, tmp_path):
    out = tmp_path / "view.html"
    assert main(["view", write_jsonl(tmp_path / "spa.jsonl", make_spa_records(120)), "-o", str(out)]) == 0
    page, errors = open_page(browser, out)
    assert page.inner_text("#status") == "Showing 1–50 of 120 pairs"
    assert page.locator("article.pair").count() == 50
    page.click("#next")
    page.click("#next")
    assert page.inner_text("#status") == "Showing 101–120 of 120 pairs"
    assert page.is_disabled("#next")
    page.fill("#search", "ex-11")  # ex-11 and ex-110 ... ex-119
    assert page.inner_text("#status") == "Showing 1–11 of 11 pairs (filtered from 120)"
    page.fill("#search", "no such text anywhere")
    assert page.inner_text("#status") == "0 pairs (filtered from 120)"
    assert errors == []


def embedded_data(path):
    text = path.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="figa-data">(.*?)</script>', text, re.S)[1])


def test_model_tokens_cover_the_whole_response(tiny_model_dir, tmp_path):
    records = make_spa_records(8)
    out = tmp_path / "view.html"
    assert (
        main(
            [
                "view",
                write_jsonl(tmp_path / "spa.jsonl", records),
                "-o",
                str(out),
                "--tokenizer",
                tiny_model_dir,
                "--beta",
                "0.25",
            ]
        )
        == 0
    )
    data = embedded_data(out)
    for record, pair in zip(records, data["pairs"]):
        assert "".join(t for t, _, _ in pair["original"]) == record["original_output"]
        assert "".join(t for t, _, _ in pair["revised"]) == record["revised_output"]
        assert {w for _, code, w in pair["original"] if code} <= {-0.25}
    assert data["tokens"] == "tokenizer model"


def test_bad_records_are_named_or_skipped_and_counted(tmp_path, capsys):
    path = write_jsonl(tmp_path / "spa.jsonl", [KNOWN[0], "{not json", KNOWN[1]])
    assert main(["view", path, "-o", str(tmp_path / "v.html")]) == 2
    assert f"{path}:2: malformed JSON" in capsys.readouterr().err
    assert main(["view", path, "-o", str(tmp_path / "v.html"), "--skip_bad_records"]) == 0
    assert "2 pairs, 1 bad records skipped" in capsys.readouterr().out
    assert main(["view", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["view", path, "-o", str(tmp_path / "no" / "dir" / "v.html"), "--skip_bad_records"]) == 2
    assert "does not exist" in capsys.readouterr().err
