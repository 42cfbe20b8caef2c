"""The one way figa writes files (docs/reliability.md, "Security").

- Outputs are checked before any work starts (`check_outputs`, `prepare_output_dir`, `prepare_output_file`): an
  output that is one of the command's inputs, a directory where a file is expected (or the reverse), a location
  that cannot be written, or a symbolic link among an output directory's entries is a one-line error.
- A file is written to a fresh temporary name next to it (`tempfile.mkstemp`: created exclusively, so a link
  planted under any name is never followed), then renamed into place (`os.replace` replaces a link at the target
  itself, never the file it points to). A reader never sees half a file; a failed write names the file.
- Append-only files (`open_append`) are opened with `O_NOFOLLOW`.
- What is written passes through `figa.redaction.redact`: no API key reaches a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable

from .errors import FigaError
from .redaction import redact


@contextlib.contextmanager
def naming(path: str):
    """A failed write (a full disk) raises an OSError that names PATH; `write()` errors name no file."""
    try:
        yield
    except OSError as error:
        raise OSError(error.errno, error.strerror, path) from error


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links too
    except OSError:
        return False


def check_outputs(outputs: dict[str, str | None], inputs: dict[str, str | None]) -> None:
    """Refuse an output path (by option) that is one of the inputs (by option): the run would replace its input."""
    for out_option, out_path in outputs.items():
        for in_option, in_path in inputs.items():
            if out_path and in_path and _same_file(out_path, in_path):
                raise FigaError(
                    f"{out_option} {out_path} is also the input {in_option}: figa does not write over "
                    "its input; choose another output"
                )


def _refuse_link(path: str, option: str) -> None:
    if os.path.islink(path):
        raise FigaError(f"{option} {path}: is a symbolic link; figa does not write through links")


def make_dir(path: str, option: str = "output") -> str:
    """Create PATH (and its parents); an existing file or a symbolic link in its place is an error."""
    _refuse_link(path, option)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FigaError(f"{option} {path}: is a file, not a directory")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise FigaError(f"{option} {path}: cannot create the directory: {error.strerror}") from None
    return path


def _probe(directory: str, option: str, path: str) -> None:
    """Create and remove a file in DIRECTORY: the only test of writability that also holds for root and for
    read-only file systems."""
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".figa-probe-")
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise FigaError(f"{option} {path}: cannot write there: {error.strerror}") from None


def prepare_output_dir(path: str, option: str) -> str:
    """Create the output directory PATH and prove it writable before any work starts; a symbolic link among its
    entries (which a library saving a model or a checkpoint would follow) is refused."""
    make_dir(path, option)
    _probe(path, option, path)
    links = sorted(entry.name for entry in os.scandir(path) if entry.is_symlink())
    if links:
        raise FigaError(
            f"{option} {path}: holds symbolic links ({', '.join(links[:3])}); figa does not write "
            "through links: remove them or choose another directory"
        )
    return path


def prepare_output_file(path: str, option: str, create_dir: bool = True) -> str:
    """Check that the file PATH can be written (PATH not a directory, its directory writable; created, unless
    CREATE_DIR is False, when a missing one is an error)."""
    if os.path.isdir(path):
        raise FigaError(f"{option} {path}: is a directory; give a file name")
    directory = os.path.dirname(os.path.abspath(path))
    if not create_dir and not os.path.isdir(directory):
        raise FigaError(f"{option} {path}: the directory {directory} does not exist")
    make_dir(directory, option)
    _probe(directory, option, path)
    return path


class _Redacting:
    def __init__(self, handle):
        self._handle = handle

    def write(self, text: str) -> int:
        return self._handle.write(redact(text))


@contextlib.contextmanager
def atomic_file(path: str, binary: bool = False):
    """Write a fresh temporary file next to PATH and rename it into place when complete; a failed write removes
    the temporary file and names PATH. Text is redacted of keys; BINARY gives the raw byte handle (an image)."""
    directory, name = os.path.split(os.path.abspath(path))
    with naming(path):
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
        try:
            if binary:
                with os.fdopen(fd, "wb") as raw:
                    yield raw
            else:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    yield _Redacting(handle)
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are ordinary files
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise


def write_json(path: str, value) -> None:
    with atomic_file(path) as handle:
        handle.write(json.dumps(value, indent=2))


def write_jsonl(path: str, rows: Iterable[dict]) -> None:
    with atomic_file(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def open_append(path: str):
    """PATH opened for appending text, never through a symbolic link."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as error:
        if os.path.islink(path):
            raise FigaError(f"{path}: is a symbolic link; figa does not write through links") from None
        raise OSError(error.errno, error.strerror, path) from None
    return os.fdopen(fd, "a", encoding="utf-8")
