"""`figa studio` in headless Chromium and over HTTP: edit, save, reload, spans exported and trained on, judging
with the kappa report, concurrent saves, a killed server, the access token and HTML in the data."""

import json
import os
import re
import signal
import subprocess
import sys
import threading

import httpx
import pytest

from .conftest import REPO, write_jsonl

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

ITEMS = [
    {
        "id": "html",
        "prompt": "Say hi <b>bold</b>",
        "original_output": "hello there <img src=x onerror=alert(1)> friend",
        "revised_output": "hello there friend",
    },
    {
        "id": "owls",
        "prompt": "Describe owls.",
        "original_output": "Owls is birds that hunt at night. They has big eyes.",
        "revised_output": "Owls are birds that hunt at night. They have big eyes.",
    },
    {
        "id": "tea",
        "prompt": "Describe tea.",
        "original_output": "Tea are a drink made from leaves. Many peoples drink it.",
        "revised_output": "Tea is a drink made from leaves. Many people drink it.",
    },
]


class Studio:
    def __init__(self, data, out, *flags):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "figa", "studio", str(data), "--output_dir", str(out), "--port", "0", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        for line in self.process.stdout:
            found = re.search(r"open (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        else:
            raise AssertionError("figa studio printed no URL")
        self.base, self.token = self.url.split("/?token=")

    def api(self, path, body=None, **headers):
        headers = {"X-Figa-Token": self.token, **headers}
        if body is None:
            return httpx.get(self.base + path, headers=headers)
        return httpx.post(self.base + path, json=body, headers=headers)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def studio(tmp_path):
    started = []

    def start(*flags, data=None):
        server = Studio(data or write_jsonl(tmp_path / "items.jsonl", ITEMS), tmp_path / "studio", *flags)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.kill()


def run_figa(*args):
    return subprocess.run([sys.executable, "-m", "figa", *map(str, args)], capture_output=True, text=True, cwd=REPO)


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_edit_save_reload_and_the_marked_spans_train(browser, studio, tmp_path, tiny_model_dir):  # noqa: F811
    server = studio()
    page = browser.new_page(bypass_csp=True)  # Playwright evaluates its waits as strings
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}") or dialog.dismiss())
    page.goto(server.url)
    page.fill("#annotator", "ana")
    page.dispatch_event("#annotator", "change")
    page.wait_for_function("document.querySelector('#position').textContent.includes('html')")
    assert page.text_content("#prompt") == "Say hi <b>bold</b>"  # shown as text, never parsed
    assert page.locator("#prompt b, #original img").count() == 0
    page.click("#next")
    page.wait_for_function("document.querySelector('#position').textContent.includes('owls')")
    page.fill("#revision", "Owls are birds that hunt at night. They has big eyes.")  # a first, smaller fix
    page.wait_for_function("document.querySelector('#ratio').textContent.includes('ratio 0.08')")  # 1 of 13 tokens
    assert page.locator("#diff-revised .sub").count() == 1
    page.fill("#revision", "Nothing about owls here at all, a different answer entirely.")
    page.wait_for_function("document.querySelector('#ratio').textContent.includes('no longer minimal')")
    page.fill("#revision", "Owls are birds that hunt at night. They have big eyes.")
    page.evaluate("document.querySelector('#revision').setSelectionRange(5, 8)")  # "are"
    page.click("#mark-revised")
    page.evaluate(
        """() => { const node = document.querySelector('#original').firstChild;
        const range = document.createRange(); range.setStart(node, 5); range.setEnd(node, 7);
        getSelection().removeAllRanges(); getSelection().addRange(range); }"""
    )  # "is"
    page.click("#mark-original")
    assert page.text_content("#spans-original") == "is ×" and page.text_content("#spans-revised") == "are ×"
    page.keyboard.press("Control+Enter")
    page.wait_for_function("document.querySelector('#position').textContent.includes('tea')")
    assert page.text_content("#progress") == "1 / 3 done"

    page.reload()  # the next unfinished item, and the saved one as saved
    page.wait_for_function("document.querySelector('#position').textContent.includes('html')")
    page.click("#next")
    page.wait_for_function("document.querySelector('#status').textContent === 'saved earlier'")
    assert page.input_value("#revision") == "Owls are birds that hunt at night. They have big eyes."
    assert page.text_content("#spans-revised") == "are ×"
    assert not errors

    exported = tmp_path / "studio.jsonl"
    result = run_figa(
        "studio", "export", tmp_path / "items.jsonl", "--output_dir", tmp_path / "studio", "-o", exported
    )
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in open(exported)]
    assert record["id"] == "owls@ana" and record["meta"]["annotator"] == "ana"
    assert record["span_weights"] == {
        "original": [{"start": 5, "end": 7, "weight": 1.0}],
        "revised": [{"start": 5, "end": 8, "weight": 1.0}],
    }
    result = run_figa(
        "train", "--model_name_or_path", tiny_model_dir, "--data", exported, "--weighting", "external",
        "--output_dir", tmp_path / "model", "--max_steps", "1", "--report_to", "none", "--save_strategy", "no",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 records kept of 1 read" in result.stdout


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_judging_edit_regions_and_the_kappa_report(browser, studio):  # noqa: F811
    server = studio("--mode", "judge")
    page = browser.new_page(bypass_csp=True)  # Playwright evaluates its waits as strings
    page.goto(server.url)
    page.fill("#annotator", "ana")
    page.dispatch_event("#annotator", "change")
    page.wait_for_function("document.querySelector('#position').textContent.includes('html')")
    page.click("#next")  # owls: two regions ("is" -> "are", "has" -> "have")
    page.wait_for_function("document.querySelectorAll('#regions .region').length === 2")
    assert page.locator("#regions .region").first.text_content().startswith("substituted")
    page.check("input[name=region-0][value=improvement]")
    page.check("input[name=region-1][value=worse]")
    page.click("#save")
    page.wait_for_function("document.querySelector('#position').textContent.includes('tea')")
    page.check("input[name=region-0][value=improvement]")
    page.check("input[name=region-1][value=neutral]")
    page.click("#save")
    page.wait_for_function("document.querySelector('#progress').textContent === '2 / 3 done'")
    for index, verdicts in ((1, ["improvement", "worse"]), (2, ["neutral", "neutral"])):
        response = server.api(
            "/api/save", {"annotator": "ben", "index": index, "kind": "judgement", "payload": {"verdicts": verdicts}}
        )
        assert response.status_code == 200, response.text
    page.click("#show-report")
    page.wait_for_function("document.querySelector('#report').textContent.includes('mean_kappa')")
    report = json.loads(page.text_content("#report"))
    # ana: improvement, worse, improvement, neutral; ben: improvement, worse, neutral, neutral
    # agreement 3/4; by chance (2*1 + 1*1 + 1*2) / 16 = 5/16; kappa = (3/4 - 5/16) / (1 - 5/16)
    assert report["agreement"][0]["kappa"] == pytest.approx((0.75 - 5 / 16) / (1 - 5 / 16))
    assert report["annotators"] == ["ana", "ben"] and report["by_kind"]["substituted"]["judged"] == 8


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_concurrent_saves_a_killed_server_and_a_restart_lose_and_duplicate_nothing(studio, tmp_path):
    many = [{"id": f"p{i}", "prompt": f"prompt {i}", "original_output": f"answer {i} is wrong"} for i in range(40)]
    data = write_jsonl(tmp_path / "many.jsonl", many)
    server = studio(data=data)
    failures = []

    def annotate(annotator):
        for index in range(40):
            body = {
                "annotator": annotator,
                "index": index,
                "kind": "revision",
                "payload": {"revision": f"answer {index} by {annotator}"},
            }
            response = server.api("/api/save", body)
            if response.status_code != 200:
                failures.append(response.text)

    threads = [threading.Thread(target=annotate, args=(name,)) for name in ("ana", "ben", "cy")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    server.kill()  # SIGKILL: no shutdown code runs
    restarted = studio(data=data)
    assert restarted.token != server.token
    for name in ("ana", "ben", "cy"):
        state = restarted.api(f"/api/state?annotator={name}").json()
        assert all(item["done"] for item in state["items"])
    assert state["team"] == {"ana": 40, "ben": 40, "cy": 40}
    result = run_figa("studio", "export", data, "--output_dir", tmp_path / "studio", "-o", tmp_path / "out.jsonl")
    records = [json.loads(line) for line in open(tmp_path / "out.jsonl")]
    assert result.returncode == 0 and len(records) == 120 == len({r["id"] for r in records})
    assert {r["revised_output"] for r in records if r["meta"]["annotator"] == "ben"} == {
        f"answer {i} by ben" for i in range(40)
    }


def test_requests_without_the_token_from_another_site_or_too_large_are_refused(studio):
    server = studio()
    assert httpx.get(server.base + "/").status_code == 403
    assert httpx.get(server.base + "/api/state?annotator=a&token=wrong").status_code == 403
    assert server.api("/api/state?annotator=a").status_code == 200
    assert server.api("/api/state?annotator=a", Host="evil.example:80").status_code == 403  # DNS rebinding
    body = {"annotator": "a", "index": 0, "kind": "skip"}
    assert server.api("/api/save", body, Origin="http://evil.example").status_code == 403
    form = httpx.post(f"{server.url}", data={"annotator": "a"})  # a cross-site form: no header, no JSON
    assert form.status_code in (403, 405)
    assert httpx.post(server.base + f"/api/save?token={server.token}", json=body).status_code == 403
    assert server.api("/api/save", {**body, "payload": {"note": "x" * (2 << 20)}}).status_code == 413
    assert server.api("/api/save", {**body, "annotator": "<script>"}).status_code == 400
    assert server.api("/api/save", {**body, "index": 99}).status_code == 400
    assert server.api("/api/save", {**body, "payload": {"note": "fine"}}).status_code == 200
    revision = {**body, "kind": "revision"}
    bad = [
        b'{"annotator": "a", "index": 0, "kind": "revision", "payload": {"revision": "x", '
        b'"spans": {"revised": [{"start": Infinity, "end": 1}]}}}',
        b'"a string"',
        b"[1, 2]",
        b"{not json",
        json.dumps(
            {**revision, "payload": {"revision": "x", "spans": {"revised": [{"start": True, "end": 1}]}}}
        ).encode(),
        json.dumps({**revision, "payload": "not an object"}).encode(),
        json.dumps({**body, "annotator": "alice\n"}).encode(),
    ]
    for content in bad:
        headers = {"X-Figa-Token": server.token, "Content-Type": "application/json"}
        refused = httpx.post(server.base + "/api/save", content=content, headers=headers)
        assert refused.status_code == 400 and refused.json()["error"].startswith("bad request"), content


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_the_prompts_figa_curate_rejected_are_a_queue_and_flag_notes_are_exported(studio, tmp_path, tiny_model_dir):
    from figa.cli import main

    from .conftest import prompts_file, read

    prompts, curated = prompts_file(tmp_path), tmp_path / "spa"
    assert main(
        ["curate", "--prompts", prompts, "--output_dir", str(curated), "--policy", tiny_model_dir, "--reward",
         "python:tests.curation_helpers:keyword_reward", "--reviser", "reference-edit", "--max_new_tokens", "6",
         "--keep_truncated"]
    ) == 0  # fmt: skip
    rejected = [r for r in read(curated / "rejected.jsonl") if r.get("original_output")]
    assert rejected  # answered, but not revised into a minimal edit
    server = studio(data=curated)
    state = server.api("/api/state?annotator=ana").json()
    assert [item["id"] for item in state["items"]] == [r["id"] for r in rejected]
    first = server.api("/api/item?index=0&annotator=ana").json()
    asked = {r["id"]: r["prompt"] for r in read(prompts)}
    assert first["prompt"] == asked[first["id"]] and first["original"] == rejected[0]["original_output"]
    for kind, payload in (("revision", {"revision": "the cat sat on the hill."}), ("flag", {"note": "cut short"})):
        assert (
            server.api("/api/save", {"annotator": "ana", "index": 0, "kind": kind, "payload": payload}).status_code
            == 200
        )
    out = tmp_path / "human.jsonl"
    assert run_figa("studio", "export", curated, "--output_dir", tmp_path / "studio", "-o", out).returncode == 0
    (record,) = read(out)
    assert record["prompt"] == asked[first["id"]] and record["revised_output"] == "the cat sat on the hill."
    assert record["meta"]["note"] == "cut short" and "span_weights" not in record
    other = write_jsonl(
        tmp_path / "other.jsonl", [{"id": r["id"], "prompt": asked[r["id"]], "response": "another"} for r in rejected]
    )  # the same ids, other answers
    refused = run_figa("studio", "export", other, "--output_dir", tmp_path / "studio", "-o", tmp_path / "o.jsonl")
    assert refused.returncode == 2 and f"{other} is not the data the studio served" in refused.stderr
    with open(prompts, "a") as handle:  # the prompts file changed after curation: its prompts no longer match
        handle.write(json.dumps({"id": "late", "prompt": "a prompt added later"}) + "\n")
    refused = run_figa("studio", "export", curated, "--output_dir", tmp_path / "studio", "-o", tmp_path / "o.jsonl")
    assert refused.returncode == 2 and "has changed since" in refused.stderr


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_two_pages_saving_the_same_item_at_once_keep_both(browser, studio):  # noqa: F811
    server = studio()
    pages = []
    for name in ("ana", "ben"):
        page = browser.new_page(bypass_csp=True)  # Playwright evaluates its waits as strings
        page.goto(server.url)
        page.fill("#annotator", name)
        page.dispatch_event("#annotator", "change")
        page.wait_for_function("document.querySelector('#position').textContent.includes('html')")
        page.fill("#revision", f"hello there friend, from {name}")
        pages.append(page)
    for page in pages:  # both clicks dispatched before either save returns
        page.evaluate("document.querySelector('#save').click()")
    for page in pages:
        page.wait_for_function("document.querySelector('#position').textContent.includes('owls')")
    for name in ("ana", "ben"):
        saved = server.api(f"/api/item?index=0&annotator={name}").json()["saved"]
        assert saved["revision"]["revision"] == f"hello there friend, from {name}"
    assert server.api("/api/state?annotator=ana").json()["team"] == {"ana": 1, "ben": 1}


@pytest.mark.slow  # a browser page
def test_spans_after_an_emoji_are_saved_as_the_text_the_annotator_selected(browser, studio, tmp_path):  # noqa: F811
    emoji = [{**ITEMS[1], "original_output": "🦉 Owls is birds.", "revised_output": "🦉 Owls are birds."}]
    server = studio(data=write_jsonl(tmp_path / "emoji.jsonl", emoji))
    page = browser.new_page(bypass_csp=True)  # Playwright evaluates its waits as strings
    page.goto(server.url)
    page.fill("#annotator", "ana")
    page.dispatch_event("#annotator", "change")
    page.wait_for_function("document.querySelector('#position').textContent.includes('owls')")
    page.fill("#revision", "🦉 Owls are birds.")
    page.evaluate("document.querySelector('#revision').setSelectionRange(12, 18)")  # "birds." in UTF-16, to the end
    page.click("#mark-revised")
    page.evaluate(
        """() => { const node = document.querySelector('#original').firstChild;
        const range = document.createRange(); range.setStart(node, 8); range.setEnd(node, 10);
        getSelection().removeAllRanges(); getSelection().addRange(range); }"""
    )  # "is", after the two UTF-16 units of the owl
    page.click("#mark-original")
    assert page.text_content("#spans-original") == "is ×" and page.text_content("#spans-revised") == "birds. ×"
    page.keyboard.press("Control+Enter")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('saved')")
    exported = tmp_path / "emoji.spa.jsonl"
    result = run_figa(
        "studio", "export", tmp_path / "emoji.jsonl", "--output_dir", tmp_path / "studio", "-o", exported
    )
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in open(exported)]
    (original,), (revised,) = record["span_weights"]["original"], record["span_weights"]["revised"]
    assert record["original_output"][original["start"] : original["end"]] == "is"
    assert record["revised_output"][revised["start"] : revised["end"]] == "birds."
