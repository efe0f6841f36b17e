"""Errors that reach the user as one line naming the file, line, column or row.

``cli.py`` alone turns these into a message and an exit status; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    INVALID_INPUT = 2
    PLUGIN_ERROR = 3


@dataclass(frozen=True)
class Location:
    """Where something is in a file. Lines, columns and rows are 1-based."""

    path: str | None = None
    line: int | None = None
    column: int | str | None = None
    row: int | None = None

    def __str__(self) -> str:
        parts = [self.path or "<input>"]
        if self.row is not None:
            parts.append(f"row {self.row}")
            if self.column is not None:
                parts.append(f"column {self.column!s}")
            return ", ".join(parts)
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True)
class Problem:
    """One finding of a validation: an error, or a warning that ``--strict`` turns into one."""

    message: str
    location: Location = field(default_factory=Location)
    severity: str = "error"
    key_path: str = ""

    def __str__(self) -> str:
        where = str(self.location)
        path = f" [{self.key_path}]" if self.key_path else ""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}{path}"

    def as_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            "severity": self.severity,
            "message": self.message,
            "file": loc.path,
            "line": loc.line,
            "column": loc.column,
            "row": loc.row,
            "key_path": self.key_path,
        }


class SurveyEngineError(Exception):
    """An error caused by input, reported without a traceback."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(
        self,
        message: str,
        path: str | None = None,
        line: int | None = None,
        column: int | str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = Location(path, line, column, row)

    def __str__(self) -> str:
        if self.location.path is None:
            return self.message
        return f"{self.location}: {self.message}"


class QuestionnaireError(SurveyEngineError):
    """The questionnaire or study config is invalid; carries every problem found."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, problems: list[Problem] | str, path: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems, Location(path, line, column))]
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"] or problems
        first = errors[0]
        super().__init__(first.message, first.location.path, first.location.line, first.location.column)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class DataError(SurveyEngineError):
    """Response data cannot be read or does not fit the questionnaire."""


class ThemeError(SurveyEngineError):
    """A theme template fails to compile or to render."""


class PluginError(SurveyEngineError):
    """A plugin failed to load, or raised inside a hook."""

    exit_code = ExitCode.PLUGIN_ERROR
