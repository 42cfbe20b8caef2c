"""The studio's web application (Starlette, served by uvicorn): one page and a small JSON API.

Safe by default: every request must carry the access token printed at start (in the page's URL, then in the
`X-Figa-Token` header of every API call), compared in constant time; the Host header must be the address served
(a DNS-rebinding page cannot reach it); API writes need the token header and a JSON body, which a cross-site
form cannot send, and an Origin other than the studio's is refused; request bodies are limited in size; no file
path ever comes from the browser; the page puts every text on screen with `textContent`.
"""

from __future__ import annotations

import hmac
import re
import sqlite3
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .agreement import VERDICTS, judgement_report
from .regions import diff_view
from .store import AnnotationStore

MAX_BODY = 1 << 20  # bytes of one request
ANNOTATOR = re.compile(r"[\w .@-]{1,64}")  # fullmatch: "alice\n" is not "alice"


class Studio:
    """What the app serves: the items, the store, the tokens, the mode and the settings shown."""

    def __init__(self, items, store: AnnotationStore, splitter, settings: dict[str, Any], token: str, hosts):
        self.items, self.store, self.splitter = items, store, splitter
        self.settings, self.token, self.hosts = settings, token, set(hosts)

    def diff(self, original: str, revision: str) -> dict:
        return diff_view(self.splitter, original, revision, self.settings["weights"], self.settings["max_edit_ratio"])


def _refusal(studio: Studio, request: Request) -> Response | None:
    given = request.headers.get("x-figa-token") or request.query_params.get("token") or ""
    if not hmac.compare_digest(given.encode(), studio.token.encode()):
        return JSONResponse({"error": "missing or wrong access token (open the URL figa studio printed)"}, 403)
    if request.headers.get("host") not in studio.hosts:
        return JSONResponse({"error": "unexpected Host header"}, 403)
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] not in studio.hosts:
        return JSONResponse({"error": "cross-site request refused"}, 403)
    if request.method == "POST":
        if "x-figa-token" not in request.headers or request.headers.get("content-type") != "application/json":
            return JSONResponse({"error": "API writes need the token header and a JSON body"}, 403)
        if int(request.headers.get("content-length") or MAX_BODY + 1) > MAX_BODY:
            return JSONResponse({"error": f"request body over {MAX_BODY} bytes"}, 413)
    return None


def _guarded(handler):
    async def endpoint(request: Request) -> Response:
        studio: Studio = request.app.state.studio
        refused = _refusal(studio, request)
        if refused is not None:
            return refused
        try:
            return await handler(studio, request)
        except (KeyError, ValueError, TypeError, IndexError, OverflowError, AttributeError) as error:
            return JSONResponse({"error": f"bad request: {type(error).__name__}: {error}"}, 400)
        except sqlite3.Error as error:  # a store that became read-only, or a full disk
            return JSONResponse({"error": f"the store {studio.store.path} cannot be written: {error}"}, 503)

    return endpoint


def _annotator(value: Any) -> str:
    if not isinstance(value, str) or not ANNOTATOR.fullmatch(value):
        raise ValueError("annotator: 1 to 64 letters, digits, spaces or . @ - _")
    return value


def _offset(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"span offsets are whole numbers, got {value!r}")
    return value


def _item(studio: Studio, index: Any) -> dict:
    if not isinstance(index, int) or not 0 <= index < len(studio.items):
        raise IndexError(f"no item {index!r}")
    return studio.items[index]


async def page(studio: Studio, request: Request) -> Response:
    html = resources.files("figa.studio").joinpath("page.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": "default-src 'self' 'unsafe-inline'"})


async def state(studio: Studio, request: Request) -> Response:
    annotator = _annotator(request.query_params.get("annotator"))
    done = {(r["item"], r["kind"]) for r in studio.store.rows(annotator=annotator)}
    kind = "judgement" if studio.settings["mode"] == "judge" else "revision"
    team: dict[str, int] = {}  # every annotator's saved items of this mode, for the lead
    for row in studio.store.rows(kind):
        team[row["annotator"]] = team.get(row["annotator"], 0) + 1
    return JSONResponse(
        {
            "team": team,
            **{k: v for k, v in studio.settings.items() if k != "weights"},
            "weights": studio.settings["weights"],
            "items": [
                {
                    "id": item["id"],
                    "done": (item["id"], kind) in done,
                    "skipped": (item["id"], "skip") in done,
                    "flagged": (item["id"], "flag") in done,
                }
                for item in studio.items
            ],
        }
    )


async def item(studio: Studio, request: Request) -> Response:
    annotator = _annotator(request.query_params.get("annotator"))
    entry = _item(studio, int(request.query_params["index"]))
    saved = {r["kind"]: r["payload"] for r in studio.store.rows(annotator=annotator) if r["item"] == entry["id"]}
    revision = saved.get("revision", {}).get("revision", entry["revision"])
    return JSONResponse(
        {
            "id": entry["id"],
            "prompt": entry["prompt"],
            "original": entry["original"],
            "revision": revision,
            "saved": saved,
            "diff": studio.diff(
                entry["original"], revision if studio.settings["mode"] == "revise" else entry["revision"]
            ),
        }
    )


async def diff(studio: Studio, request: Request) -> Response:
    body = await request.json()
    entry = _item(studio, body["index"])
    if not isinstance(body["revision"], str):
        raise TypeError("revision: a string")
    return JSONResponse(studio.diff(entry["original"], body["revision"]))


def _spans(value: Any, text: str) -> list[dict]:
    """Marked spans inside TEXT, sorted and merged where they overlap (records refuse overlapping spans)."""
    spans = sorted((_offset(s["start"]), _offset(s["end"])) for s in value or [])
    merged: list[list[int]] = []
    for start, end in spans:
        if not 0 <= start < end <= len(text):
            raise ValueError(f"span {start}-{end} is outside the text")
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [{"start": s, "end": e} for s, e in merged]


async def save(studio: Studio, request: Request) -> Response:
    body = await request.json()
    annotator, entry, kind = _annotator(body["annotator"]), _item(studio, body["index"]), body["kind"]
    given = body.get("payload") or {}
    payload: dict[str, Any]
    if kind == "revision":
        revision = given["revision"]
        if not isinstance(revision, str) or not revision.strip():
            raise ValueError("revision: a non-empty string")
        spans = given.get("spans") or {}
        payload = {
            "revision": revision,
            "spans": {
                "original": _spans(spans.get("original"), entry["original"]),
                "revised": _spans(spans.get("revised"), revision),
            },
        }
    elif kind == "judgement":
        regions = studio.diff(entry["original"], entry["revision"])["regions"]
        verdicts = given["verdicts"]
        if len(verdicts) != len(regions) or any(v not in (*VERDICTS, None) for v in verdicts):
            raise ValueError(f"verdicts: one of {', '.join(VERDICTS)} or null per region ({len(regions)})")
        payload = {"regions": [{"kind": region["kind"], "verdict": v} for region, v in zip(regions, verdicts)]}
    elif kind in ("skip", "flag"):
        note = given.get("note", "")
        if not isinstance(note, str) or len(note) > 2000:
            raise ValueError("note: a string of at most 2000 characters")
        payload = {"note": note}
    else:
        raise ValueError(f"kind: revision, judgement, skip or flag, got {kind!r}")
    return JSONResponse({"saved": studio.store.save(entry["id"], annotator, kind, payload)})


async def report(studio: Studio, request: Request) -> Response:
    return JSONResponse(judgement_report(studio.store.rows("judgement")))


def make_app(studio: Studio) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", _guarded(page)),
            Route("/api/state", _guarded(state)),
            Route("/api/item", _guarded(item)),
            Route("/api/diff", _guarded(diff), methods=["POST"]),
            Route("/api/save", _guarded(save), methods=["POST"]),
            Route("/api/report", _guarded(report)),
        ]
    )
    app.state.studio = studio
    return app
