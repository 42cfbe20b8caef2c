"""Start the studio: read the items, open the store, pick the port, print the URL with its access token, serve."""

from __future__ import annotations

import logging
import secrets
import socket
from dataclasses import dataclass, field

from ..errors import FigaError
from ..loss import loss_field
from ..view.page import ModelTokens, WordPieces
from .app import Studio, make_app
from .queue import load_items, record_served
from .store import AnnotationStore

logger = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class StudioConfig:
    data: str | None = field(
        default=None,
        metadata={
            "help": "What to work on: SPA records (review or fix each revision), an output directory of `figa "
            "curate` (revise the prompts it rejected), or any prompt + response JSONL (write a revision)."
        },
    )
    output_dir: str = field(default="studio", metadata={"help": "Where the annotations go (studio.sqlite3)."})
    mode: str = field(
        default="revise",
        metadata={
            "help": "revise: write minimal revisions; judge: judge each edit region.",
            "choices": ["revise", "judge"],
        },
    )
    tokenizer: str | None = field(
        default=None,
        metadata={
            "help": "Show the tokens of the model to be trained (a local tokenizer or model path); default: word "
            "pieces."
        },
    )
    max_edit_ratio: float = field(
        default=0.5, metadata={"help": "Warn when the word edit ratio of a revision exceeds this (figa curate's)."}
    )
    alpha: float = loss_field("alpha")
    beta: float = loss_field("beta")
    gamma: float = loss_field("gamma")
    host: str = field(
        default="127.0.0.1",
        metadata={"help": "Address to serve on. Anything but this machine's loopback opens it to a network."},
    )
    port: int = field(default=8765, metadata={"help": "Port (0: any free one)."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow tokenizer repository code to run."})

    def check(self) -> None:
        if not self.data:
            raise FigaError(
                "give what to work on: figa studio DATA (SPA records, prompt + response JSONL, or a figa curate "
                "output directory)"
            )
        if not 0 < self.max_edit_ratio < 1e6:
            raise FigaError(f"--max_edit_ratio must be a positive number, got {self.max_edit_ratio}")
        if not 0 <= self.port < 65536:
            raise FigaError(f"--port must be from 0 to 65535, got {self.port}")


def build(config: StudioConfig, token: str, port: int) -> Studio:
    config.check()
    items = load_items(config.data)
    splitter = ModelTokens(config.tokenizer, config.trust_remote_code) if config.tokenizer else WordPieces()
    hosts = {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
    if config.host not in LOOPBACK:
        hosts |= {f"{config.host}:{port}"}
    settings = {
        "mode": config.mode,
        "max_edit_ratio": config.max_edit_ratio,
        "weights": {"alpha": config.alpha, "beta": config.beta, "gamma": config.gamma},
        "tokens": f"tokenizer {config.tokenizer}" if config.tokenizer else "word pieces",
    }
    store = AnnotationStore(config.output_dir)
    record_served(config.output_dir, config.data, items)
    return Studio(items, store, splitter, settings, token, hosts)


def serve(config: StudioConfig) -> None:
    import uvicorn

    config.check()
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as error:
        raise FigaError(f"--host {config.host} --port {config.port}: cannot listen there: {error.strerror}") from None
    sock.listen(128)  # before the URL is printed: a page opened at once queues instead of being refused
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    studio = build(config, token, port)
    if config.host not in LOOPBACK:
        logger.warning(
            f"WARNING: serving on {config.host}, reachable from the network; anyone with the URL can annotate."
        )
    shown = "127.0.0.1" if config.host in LOOPBACK or config.host in ("0.0.0.0", "::") else config.host
    print(f"figa studio: {len(studio.items)} items, {config.mode} mode, annotations in {studio.store.path}")
    print(f"open http://{shown}:{port}/?token={token}", flush=True)
    server = uvicorn.Server(uvicorn.Config(make_app(studio), log_level="warning", lifespan="off"))
    try:
        server.run(sockets=[sock])
    finally:
        studio.store.close()
