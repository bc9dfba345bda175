"""One error hierarchy for the whole package.

Every error has a stable code (``CC1xx`` for code sets, ``CC2xx`` for text, ...), a message a
person can act on and, where one exists, the fix. Messages never contain note text or patient
identifiers: callers pass file names, line numbers, codes and dates, nothing else.
"""

from __future__ import annotations

from pathlib import Path


class ChartcodeError(Exception):
    """Base class. ``code`` is stable across versions; ``fix`` tells the user what to do."""

    code = "CC000"

    def __init__(self, message: str, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "fix": self.fix}


class CodesetFormatError(ChartcodeError):
    """A code-set file does not have the layout we expect (malformed, truncated, wrong columns)."""

    code = "CC101"

    def __init__(self, path: Path | str, line: int | None, problem: str, fix: str | None = None) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(
            f"{where}: {problem}",
            fix
            or "re-download the file from its official source (or restore it in your mirror) "
            "and install again.",
        )


class CodesetSourceError(ChartcodeError):
    """A source (directory, URL, download) cannot be read or failed verification."""

    code = "CC102"


class ChecksumMismatchError(CodesetSourceError):
    code = "CC103"


class DownloadError(CodesetSourceError):
    code = "CC104"


class KnowledgeBaseMissingError(ChartcodeError):
    code = "CC110"


class KnowledgeBaseCorruptError(ChartcodeError):
    code = "CC111"


class NoReleaseForDateError(ChartcodeError):
    """No installed release covers the date asked for."""

    code = "CC120"


class InvalidCodeFormatError(ChartcodeError):
    """The string is not shaped like a code of the system (e.g. ``E11.``)."""

    code = "CC130"


class UnknownCodeError(ChartcodeError):
    """The code is well-formed but never existed in any installed release."""

    code = "CC131"


class CodeNotValidOnDateError(ChartcodeError):
    """The code exists but was not valid on the date asked for."""

    code = "CC132"


class BadDateError(ChartcodeError):
    code = "CC140"


class InputError(ChartcodeError):
    """Bad user input other than dates and codes (malformed document, JSON line, option)."""

    code = "CC150"
