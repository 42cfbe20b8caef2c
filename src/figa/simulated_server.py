"""An OpenAI-compatible chat server on this machine that answers after a set latency with a set capacity, for
measuring what `figa curate` itself costs at scale (benchmarks/bench_curate_scale.py) and for tests.

    python -m figa.simulated_server --latency 0.05 --capacity 64      # prints its base URL, then serves

It plays the three parts of a curation with canned text (no model): a policy answer (a good one for prompts that
contain "easy"), a revision (the answer with one more word), and a 0-10 judge rating (9 for good answers and
revisions, 2 for the others). At most CAPACITY requests are answered at once, each after LATENCY seconds; the
rest wait in line, as on a saturated inference server. `judge` and `revise` make the same decisions in-process
(`python:figa.simulated_server:judge`, `python:figa.simulated_server:revise`), for a run whose only requests
are the policy's.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

GOOD, REVISED = "[good]", "[revised]"


def rating(response: str) -> int:
    return 9 if GOOD in response or REVISED in response else 2


def reply_text(content: str) -> str:
    if content.startswith("Rate how well"):
        return str(rating(content.rsplit("Response:", 1)[-1]))
    if "Response to revise:" in content:
        return revise("", content.split("Response to revise:\n", 1)[1].strip(), None)
    good = f" {GOOD}" if "easy" in content else ""
    return f"Here is a plain answer to the request, in one sentence of about twelve words{good}."


def judge(prompts: list[str], responses: list[str]) -> list[float]:
    """The server's judge rating, scaled to 0-1 as figa scales an `openai:` judge's."""
    return [rating(response) / 10 for response in responses]


def revise(prompt: str, original: str, reference: str | None) -> str:
    return f"{original} {REVISED}"


def curate_arguments(
    prompts, output_dir, url: str, concurrency: int, block_size: int, in_process: bool = False
) -> list[str]:
    """The `figa curate` options that put the policy, the reward (a judge) and the reviser on this server at URL;
    with IN_PROCESS only the policy, the reward and the reviser being `judge` and `revise` above."""
    module = "python:figa.simulated_server"
    reward, reviser = (f"{module}:judge", f"{module}:revise") if in_process else ("openai:sim", "openai:sim")
    return [
        *("--prompts", str(prompts), "--output_dir", str(output_dir), "--openai_base_url", url),
        *("--policy", "sim", "--policy_backend", "openai", "--reward", reward, "--reviser", reviser),
        *("--concurrency", str(concurrency), "--block_size", str(block_size)),
    ]


def make_app(latency: float, capacity: int):
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    gate = asyncio.Semaphore(capacity)

    async def chat(request):
        try:
            body = await request.json()
        except ClientDisconnect:  # the client was killed mid-request
            return Response(status_code=499)
        content = body["messages"][-1]["content"]
        async with gate:
            if latency:
                await asyncio.sleep(latency)
        text = reply_text(content)
        return JSONResponse(
            {
                "id": "sim",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "sim"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            }
        )

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.0, help="Seconds before each answer.")
    parser.add_argument("--capacity", type=int, default=64, help="Requests answered at once.")
    parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 (0: any free one).")
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", flush=True)
    config = uvicorn.Config(
        make_app(args.latency, args.capacity), log_level="warning", lifespan="off", access_log=False, backlog=4096
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
