"""The strict reader of chartcode's JSON rules files (the packaged ones, or a user's replacement).

One reader serves every rules file: the text layer's (sections, abbreviations, context, attributes)
and the E/M rules of ``chartcode.assign``. It reads the packaged file ``<package>/data/<name>`` or
the file given, checks the top level (``format``, ``version`` == 1, the allowed keys) and offers
typed accessors that stop at the first problem with the file name and the JSON path
(``rules[12].direction: must be one of ...``), never a bare ``KeyError``/``TypeError``.

The keyword arguments choose how a user's errors read: the exception class (an
:class:`~chartcode.errors.InputError` subclass with its own stable code), the message prefix
(``"Rules file"``, ``"E/M rules file"``) and the fix texts. The defaults are the text layer's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NoReturn, overload

from chartcode.errors import InputError

__all__ = ["RuleFile"]

_READ_FIX = "check the path and that the file is UTF-8 JSON."
_PACKAGED_FIX = "reinstall chartcode; the packaged rules file is damaged."


class RuleFile:
    """Reads one JSON rules file and validates it strictly; every problem names the JSON path.

    ``source`` is a path, or None for the packaged ``<package>/data/<default_name>``. The top level
    must be an object with ``format`` == ``expected_format`` and ``version`` == 1, plus the
    ``required`` keys; ``optional`` lists the further keys allowed (None: any, checked by the caller).
    Errors are ``error(message, fix)``; messages read ``"<label> <file>: <where>: <problem>."``.
    ``file_fix`` defaults to pointing at the schema of the packaged files of ``package``.
    """

    __slots__ = ("data", "error", "fix", "label", "name")

    def __init__(
        self,
        source: str | Path | None,
        default_name: str,
        expected_format: str,
        *,
        package: str = "chartcode.text",
        error: type[InputError] = InputError,
        label: str = "Rules file",
        file_fix: str | None = None,
        packaged_fix: str = _PACKAGED_FIX,
        required: Iterable[str] = (),
        optional: Iterable[str] | None = None,
    ) -> None:
        self.error = error
        self.label = label
        folder = package.replace(".", "/") + "/data"
        if source is None:
            self.name = f"{folder}/{default_name}"
            self.fix = packaged_fix
            try:
                raw = (resources.files(package) / "data" / default_name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise error(f"{label} {self.name} cannot be read ({type(exc).__name__}).", self.fix) from exc
        else:
            path = Path(source)
            self.name = path.name
            self.fix = (
                file_fix
                if file_fix is not None
                else f"correct the rules file so it follows the schema of the files in {folder}/."
            )
            try:
                raw = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise error(f"{label} {self.name} cannot be read ({type(exc).__name__}).", _READ_FIX) from exc
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise error(
                f"{label} {self.name} is not valid JSON "
                f"({exc.msg} at line {exc.lineno}, column {exc.colno}).",
                self.fix,
            ) from exc
        keys = ("format", "version", *(k for k in required if k not in ("format", "version")))
        top = self.obj(data, "top level", required=keys, optional=optional)
        if top["format"] != expected_format:
            self.fail("format", f"must be {expected_format!r}")
        if top["version"] != 1 or isinstance(top["version"], bool):
            self.fail("version", "must be 1")
        self.data = top

    def fail(self, where: str, problem: str) -> NoReturn:
        raise self.error(f"{self.label} {self.name}: {where}: {problem}.", self.fix)

    def obj(
        self, value: Any, where: str, required: Iterable[str], optional: Iterable[str] | None = ()
    ) -> dict[str, Any]:
        """A JSON object with exactly the ``required`` keys plus any of ``optional``.

        ``optional=None`` allows any further key.
        """
        if not isinstance(value, dict):
            self.fail(where, "must be a JSON object")
        req = tuple(required)
        for key in req:
            if key not in value:
                self.fail(where, f"missing key {key!r}")
        if optional is not None:
            allowed = set(req) | set(optional)
            for key in value:
                if key not in allowed:
                    self.fail(where, f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
        return value

    def items(self, key: str) -> list[Any]:
        """The top-level ``key``: a non-empty list."""
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            self.fail(key, "must be a non-empty list")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, "must be a non-empty string")
        return value

    def strings(self, value: Any, where: str, *, allow_empty: bool = False) -> list[str]:
        if not isinstance(value, list) or (not value and not allow_empty):
            self.fail(where, "must be a non-empty list of strings" if not allow_empty else "must be a list")
        return [self.string(item, f"{where}[{i}]") for i, item in enumerate(value)]

    @overload
    def choice(
        self, value: Any, where: str, allowed: Sequence[str], *, nullable: Literal[False] = False
    ) -> str: ...
    @overload
    def choice(self, value: Any, where: str, allowed: Sequence[str], *, nullable: bool) -> str | None: ...
    def choice(self, value: Any, where: str, allowed: Sequence[str], *, nullable: bool = False) -> str | None:
        """One of ``allowed``; with ``nullable``, also JSON null (None)."""
        if value is None and nullable:
            return None
        if value not in allowed:
            self.fail(where, f"must be one of {', '.join(allowed)}" + (" or null" if nullable else ""))
        return str(value)

    @overload
    def integer(
        self, value: Any, where: str, *, minimum: int = 1, nullable: Literal[False] = False
    ) -> int: ...
    @overload
    def integer(self, value: Any, where: str, *, minimum: int = 1, nullable: bool) -> int | None: ...
    def integer(self, value: Any, where: str, *, minimum: int = 1, nullable: bool = False) -> int | None:
        """An integer >= ``minimum`` (not a boolean); with ``nullable``, also JSON null (None)."""
        if value is None and nullable:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.fail(where, f"must be an integer >= {minimum}" + (" or null" if nullable else ""))
        return value

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(where, "must be true or false")
        return value

    def regex(
        self, value: Any, where: str, group: str | None = None, *, flags: int = re.IGNORECASE
    ) -> re.Pattern[str]:
        """A regular expression (compiled with ``flags``); with ``group``, it must have that named group."""
        text = self.string(value, where)
        try:
            pattern = re.compile(text, flags)
        except re.error as exc:
            self.fail(where, f"is not a valid regular expression ({exc})")
        if group is not None and group not in pattern.groupindex:
            self.fail(where, f"must have a named group (?P<{group}>...)")
        return pattern
