"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol, for tests.

Revisions are scripted (the original plus the prompt's missing keywords); reward-judge requests get "7",
`figa weigh` judge requests the words of each side missing from the other (scripted_weights), and other requests
"a plain answer". Faults are injected by the hash
of the request content: the first attempt of some requests gets 429 (with Retry-After), 500, 503, a delay,
or a truncated JSON body; requests whose content has ALWAYS_FAIL always get 500, EMPTY_CHOICES always get
an empty `choices` list, ALWAYS_HANG never get an answer (until the server stops), LONG_ANSWER get a reply
stopped at the token limit (finish_reason "length"), ECHO_KEY_REPLY a revision that ends with the request's
Authorization header in upper case (as a careless proxy might echo it), DRIP a reply sent one byte every 0.1 s,
RATE_NEGATIVE and RATE_HIGH judge ratings of -3 and 15 on the 0-10 scale. While `down_status` is set, every request
gets that HTTP status (a key refused, a server overloaded). Every request's Authorization header is recorded.
"""

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .curation_helpers import KEYWORDS


def scripted_weights(content: str, answered: int) -> str:
    """A `figa weigh` judge: the response's words missing from the revision are wrong, the revision's words
    missing from the response are fixes (weighted: score 0.5 and 1). Requests with UNQUOTABLE get a quote that is
    not in the revision in their first answer; NEVER_JSON requests never get JSON."""
    if "NEVER_JSON" in content:
        return "The revision is better."
    original, revised = (
        content.split("\n\nResponse:\n", 1)[1].split("\n\nReply with JSON", 1)[0].split("\n\nRevision:\n")
    )
    weighted = '"score"' in content

    def quotes(words, score):
        return [{"text": w, "score": score} if weighted else w for w in words]

    wrong = [w for w in original.split() if w not in revised.split()]
    fixes = [w for w in revised.split() if w not in original.split()]
    if "UNQUOTABLE" in content and answered == 1:
        fixes = ["words the revision does not have"]
    return "```json\n" + json.dumps({"wrong": quotes(wrong, 0.5), "fixes": quotes(fixes, 1.0)}) + "\n```"


def scripted_reply(content: str, answered: int = 1) -> str:
    """A revision for revision requests, a score for judge requests, a fixed answer for rollouts."""
    if content.startswith("Rate how well"):
        return "-3" if "RATE_NEGATIVE" in content else "15" if "RATE_HIGH" in content else "7"
    if content.startswith("Compare a response with its revision"):
        return scripted_weights(content, answered)
    if "Response to revise:" not in content:
        return "a plain answer"
    original = content.split("Response to revise:\n", 1)[1]
    missing = [w for w in KEYWORDS.search(content).groups() if w not in original.split()]
    return (original + " " + " ".join(missing)).strip()


class Server:
    def __init__(self, faults: bool = True):
        self.faults, self.attempts, self.answered, self.authorizations = faults, {}, {}, []
        self.down_status: int | None = None
        self.lock, self.stopping = threading.Lock(), threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                content = body["messages"][-1]["content"]
                with server.lock:
                    server.authorizations.append(self.headers.get("Authorization", ""))
                    key = hashlib.sha256(content.encode()).hexdigest()
                    server.attempts[key] = attempt = server.attempts.get(key, 0) + 1
                if server.down_status:
                    return self._send(server.down_status, {"error": {"message": "refused"}})
                fault = int(key, 16) % 7 if server.faults and attempt == 1 else None
                if server.faults and "ALWAYS_FAIL" in content:
                    fault = 1
                if "ALWAYS_HANG" in content:
                    server.stopping.wait(120)
                    return None
                if "DRIP" in content:
                    return self._drip(body)
                if "ECHO_KEY_REPLY" in content:
                    echo = f"{scripted_reply(content)} {self.headers.get('Authorization', '').upper()}"
                    return self._send(200, self._completion(body, echo))
                if "ECHO_KEY" in content:
                    return self._send(401, {"error": {"message": f"bad key {self.headers.get('Authorization')}"}})
                if fault == 0:
                    return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
                if fault == 1:
                    return self._send(500, {"error": {"message": "boom"}})
                if fault == 2:
                    return self._send(503, {"error": {"message": "unavailable"}})
                if fault == 3:
                    return self._raw(200, b'{"id": "x", "choices": [{"mess')
                if fault == 4:
                    time.sleep(0.3)
                with server.lock:
                    server.answered[key] = answered = server.answered.get(key, 0) + 1
                reply = self._completion(
                    body, scripted_reply(content, answered), "length" if "LONG_ANSWER" in content else "stop"
                )
                if "EMPTY_CHOICES" in content:
                    reply["choices"] = []
                self._send(200, reply)

            def _completion(self, body, text, finish_reason="stop"):
                return {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "finish_reason": finish_reason, "message": {"role": "assistant", "content": text}}
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }

            def _drip(self, body):
                data = json.dumps(self._completion(body, scripted_reply(body["messages"][-1]["content"]))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                for i in range(len(data)):
                    if server.stopping.is_set():
                        return
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.1)

            def _send(self, status, payload, headers=None):
                self._raw(status, json.dumps(payload).encode(), headers)

            def _raw(self, status, data, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
