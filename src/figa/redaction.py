"""Secrets (API keys) figa has read from the environment, and `redact`, which removes them from any text.

Every file figa writes (`figa.files`), every saved stage row, every reply of a server and every error the command
line prints passes through `redact`, so a server or proxy that echoes the key cannot put it into an output. The
match ignores case (some servers upper- or lower-case what they echo). Values shorter than `MIN_LENGTH` characters
are not treated as secrets: replacing every occurrence of a short word in the data would damage the data.
"""

from __future__ import annotations

import re
import threading

MIN_LENGTH = 8
MASK = "***"

_secrets: set[str] = set()
_pattern: re.Pattern | None = None
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Treat VALUE as a secret from now on (in this process)."""
    global _pattern
    if not value or len(value) < MIN_LENGTH or value in _secrets:
        return
    with _lock:
        _secrets.add(value)
        # the longest first, so a key that contains another is masked whole
        alternatives = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in alternatives), re.IGNORECASE)


def redact(text: str) -> str:
    """TEXT with every registered secret, in any case, replaced by `***`."""
    pattern = _pattern
    return pattern.sub(MASK, text) if pattern is not None and text else text
