"""Errors figa reports to users: the CLI prints them as one clear message, without a traceback."""

from __future__ import annotations


class FigaError(Exception):
    """An error caused by the user's input or setup, with a message that says how to fix it."""


class RecordError(FigaError):
    """A bad data record: names the file, the line (1-based) and the field."""

    def __init__(self, source: str, line: int | None, field: str | None, problem: str):
        self.source, self.line, self.field, self.problem = source, line, field, problem
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: field '{field}': {problem}" if field else f"{where}: {problem}")
