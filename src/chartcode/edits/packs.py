"""Payer rule packs: a payer's own policies, written in YAML without Python, checked after the built-in rules.

A pack is one YAML file::

    pack: acme-commercial                 # name, shown in errors
    description: ACME Health Plan professional policies, 2024
    applies_to: {payer_ids: [ACME01]}     # default for every rule (optional)
    rules:
      - id: TELEHEALTH-MODIFIER           # the finding's rule id is PAYER-TELEHEALTH-MODIFIER
        kind: modifier_required
        severity: error                   # error | warning | info (default error)
        when: {place_of_service: ["02", "10"]}
        modifiers: ["95", "GT"]           # any one of them
        message: "Telehealth line {line} ({code}, POS {pos}) has none of the modifiers {required}."
        fix: "Add modifier 95 to line {line}."            # optional: each kind has a default
        citation: "ACME Telehealth Reimbursement Policy RP-114, section 3"

Rule kinds and their own fields:

``modifier_required``  ``modifiers`` (any one of them is enough); ``when`` needs ``codes`` or
    ``place_of_service``. One finding per matching line without any of the modifiers.
``frequency_limit``  ``max_units`` or ``max_lines``, ``per: day | claim`` (default day), ``combined``
    (default false: each code counted on its own; true: the listed codes counted together); ``when.codes``
    required. One finding per code (or group) and day (or claim) over the limit.
``prior_auth``  ``when.codes`` required. One finding per matching line (the claim model carries no
    authorization number, so the finding reminds the biller to obtain and attach it).
``primary_dx_not_allowed``  ``diagnoses``: codes the payer does not accept as first-listed diagnosis.
``not_covered``  ``when.codes`` required. One finding per matching line.
``diagnosis_required``  ``diagnoses``; ``when.codes`` required: a matching line must point to (or, without
    pointers, the claim must carry) one of the diagnoses.

Every rule may also have ``applies_to`` (``payer_ids`` and/or ``payer_types``: the rule applies when the
claim's payer id or type is listed; without it, the pack's, else every payer), ``when`` (``codes``,
``place_of_service``, ``diagnoses``: the claim carries one of them — all given selectors must hold) and
``effective_from`` / ``effective_to`` (dates of service, inclusive). Code lists take exact codes
(``99213``, ``E11.22``), prefixes (``J9*``, ``E11.*``) and ranges (``99202-99215``, ``S00-T88``); dots in
ICD-10-CM codes are optional. ``message`` and ``fix`` may use ``{placeholders}`` (listed per kind in
:data:`PLACEHOLDERS`); an unknown one is an error when the pack is loaded.

Errors point into the YAML: ``pack.yaml, line 12, column 5: rules[2].when.codes: …`` (list positions
in brackets count from 0). Every scalar is read as text (so ``02`` stays ``"02"`` and ``00100`` is not
an octal number) and converted by the schema.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from chartcode.edits.io import validation_errors
from chartcode.edits.model import Claim, Line, PayerType
from chartcode.edits.registry import Finding, Severity
from chartcode.errors import InputError

PACK_FIX = "correct the pack at the place named (the format is shown in examples/payer_pack.yaml)."


class PackError(InputError):
    """A payer pack that cannot be read: YAML syntax, schema errors (with line and column) or id clashes."""

    code = "CC153"


# --- code patterns -------------------------------------------------------------------------------

_CODE_CHARS = re.compile(r"[A-Z0-9.]+")


def _norm(code: str) -> str:
    return code.strip().upper().replace(".", "")


def _check_pattern(value: str) -> str:
    text = value.strip().upper()
    if text.endswith("*"):
        if not _CODE_CHARS.fullmatch(text[:-1]):
            raise ValueError(f"{value!r} is not a code prefix (letters, digits and dots, then *)")
        return text
    if "-" in text:
        low, _, high = text.partition("-")
        if not (_CODE_CHARS.fullmatch(low) and _CODE_CHARS.fullmatch(high)):
            raise ValueError(f"{value!r} is not a code range such as 99202-99215")
        if len(_norm(low)) != len(_norm(high)):
            raise ValueError(f"range {value!r}: both ends need the same number of characters")
        if _norm(low) > _norm(high):
            raise ValueError(f"range {value!r} runs backwards")
        return text
    if not _CODE_CHARS.fullmatch(text):
        raise ValueError(
            f"{value!r} is not a code (letters, digits and dots; J9* for a prefix, A-B for a range)"
        )
    return text


class CodeMatcher:
    """Exact codes, prefixes and ranges, compared without dots and case."""

    __slots__ = ("exact", "prefixes", "ranges")

    def __init__(self, patterns: Iterable[str]) -> None:
        self.exact: frozenset[str] = frozenset()
        exact: set[str] = set()
        self.prefixes: tuple[str, ...] = ()
        self.ranges: tuple[tuple[str, str], ...] = ()
        prefixes: list[str] = []
        ranges: list[tuple[str, str]] = []
        for p in patterns:
            if p.endswith("*"):
                prefixes.append(_norm(p[:-1]))
            elif "-" in p:
                low, _, high = p.partition("-")
                ranges.append((_norm(low), _norm(high)))
            else:
                exact.add(_norm(p))
        self.exact, self.prefixes, self.ranges = frozenset(exact), tuple(prefixes), tuple(ranges)

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes or self.ranges)

    def matches(self, code: str) -> bool:
        c = _norm(code)
        if c in self.exact:
            return True
        if any(c.startswith(p) for p in self.prefixes):
            return True
        return any(c[: len(low)] >= low and c[: len(high)] <= high for low, high in self.ranges)


def _check_pos(value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"\d{2}", text):
        raise ValueError(f'{value!r} is not a two-digit place-of-service code (write it in quotes: "02")')
    return text


def _check_modifier(value: str) -> str:
    text = value.strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{2}", text):
        raise ValueError(f"{value!r} is not a two-character modifier")
    return text


CodePattern = Annotated[str, AfterValidator(_check_pattern)]
PosCode = Annotated[str, AfterValidator(_check_pos)]
Modifier = Annotated[str, AfterValidator(_check_modifier)]


# --- schema ----------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class AppliesTo(_Strict):
    payer_ids: tuple[str, ...] = ()
    payer_types: tuple[PayerType, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> AppliesTo:
        if not self.payer_ids and not self.payer_types:
            raise ValueError("give payer_ids or payer_types (or leave applies_to out for every payer)")
        return self

    def covers(self, claim: Claim) -> bool:
        return claim.payer.id in self.payer_ids or claim.payer.type in self.payer_types


class When(_Strict):
    """Selectors; every one given must hold. ``diagnoses``: the claim carries at least one of them."""

    codes: tuple[CodePattern, ...] = ()
    place_of_service: tuple[PosCode, ...] = ()
    diagnoses: tuple[CodePattern, ...] = ()


class WhenCodes(When):
    codes: tuple[CodePattern, ...] = Field(min_length=1)


COMMON_PLACEHOLDERS = frozenset({"payer", "payer_id", "rule"})
LINE_PLACEHOLDERS = COMMON_PLACEHOLDERS | {"code", "line", "pos", "date", "modifiers"}


class _Rule(_Strict):
    KIND_FIX: ClassVar[str] = ""
    PLACEHOLDERS: ClassVar[frozenset[str]] = LINE_PLACEHOLDERS

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=60)
    severity: Severity = "error"
    message: str = Field(min_length=1)
    fix: str | None = None
    citation: str = Field(min_length=1)
    applies_to: AppliesTo | None = None
    when: When = When()
    effective_from: date | None = None
    effective_to: date | None = None

    _codes: CodeMatcher = PrivateAttr(default_factory=lambda: CodeMatcher(()))
    _claim_dx: CodeMatcher = PrivateAttr(default_factory=lambda: CodeMatcher(()))

    def model_post_init(self, context: Any, /) -> None:
        self._codes = CodeMatcher(self.when.codes)
        self._claim_dx = CodeMatcher(self.when.diagnoses)

    @field_validator("id")
    @classmethod
    def _upper_id(cls, value: str) -> str:
        return value.upper()

    @field_validator("message", "fix")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            _check_template(value, cls.PLACEHOLDERS)
        return value

    @model_validator(mode="after")
    def _dates(self) -> _Rule:
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self

    @property
    def rule_id(self) -> str:
        return f"PAYER-{self.id}"

    # -- evaluation helpers --

    def in_force(self, day: date) -> bool:
        if self.effective_from is not None and day < self.effective_from:
            return False
        return self.effective_to is None or day <= self.effective_to

    def claim_selected(self, claim: Claim) -> bool:
        return not self._claim_dx or any(self._claim_dx.matches(d) for d in claim.diagnoses)

    def line_selected(self, claim: Claim, index: int) -> bool:
        line = claim.lines[index]
        if self.when.codes and not self._codes.matches(line.code):
            return False
        if self.when.place_of_service and claim.line_pos(index) not in self.when.place_of_service:
            return False
        return self.in_force(claim.line_date(index))

    def selected_lines(self, claim: Claim) -> list[int]:
        if not self.claim_selected(claim):
            return []
        return [i for i in range(len(claim.lines)) if self.line_selected(claim, i)]

    def finding(
        self, claim: Claim, lines: Sequence[int], codes: Sequence[str], values: dict[str, str]
    ) -> Finding:
        values = {
            "payer": claim.payer.name or claim.payer.id,
            "payer_id": claim.payer.id,
            "rule": self.rule_id,
        } | values
        fix = self.fix if self.fix is not None else self.KIND_FIX
        return Finding(
            self.rule_id,
            self.severity,
            tuple(i + 1 for i in lines),
            tuple(codes),
            self.message.format_map(values),
            fix.format_map(values),
            self.citation,
        )

    def line_values(self, claim: Claim, index: int) -> dict[str, str]:
        line = claim.lines[index]
        return {
            "code": line.code,
            "line": str(index + 1),
            "pos": claim.line_pos(index) or "",
            "date": claim.line_date(index).isoformat(),
            "modifiers": ", ".join(line.modifiers) or "none",
        }

    def check(self, claim: Claim) -> Iterator[Finding]:  # pragma: no cover - every kind overrides
        raise NotImplementedError


class ModifierRequired(_Rule):
    PLACEHOLDERS = LINE_PLACEHOLDERS | {"required"}
    KIND_FIX = "Add modifier {required} to line {line} if the service was furnished as the modifier states."

    kind: Literal["modifier_required"]
    modifiers: tuple[Modifier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _selector(self) -> ModifierRequired:
        if not self.when.codes and not self.when.place_of_service:
            raise ValueError("a modifier_required rule needs when.codes or when.place_of_service")
        return self

    def check(self, claim: Claim) -> Iterator[Finding]:
        required = " or ".join(self.modifiers)
        for i in self.selected_lines(claim):
            if not set(claim.lines[i].modifiers) & set(self.modifiers):
                values = self.line_values(claim, i) | {"required": required}
                yield self.finding(claim, [i], [claim.lines[i].code], values)


class FrequencyLimit(_Rule):
    PLACEHOLDERS = COMMON_PLACEHOLDERS | {"code", "lines", "count", "limit", "unit", "per", "date"}
    KIND_FIX = (
        "Keep {code} within {payer}'s limit ({unit} per {per}: {limit}), or send the documentation the payer "
        "asks for to exceed it."
    )

    kind: Literal["frequency_limit"]
    when: WhenCodes
    max_units: Decimal | None = Field(default=None, gt=0)
    max_lines: int | None = Field(default=None, gt=0)
    per: Literal["day", "claim"] = "day"
    combined: bool = False

    @model_validator(mode="after")
    def _one_limit(self) -> FrequencyLimit:
        if (self.max_units is None) == (self.max_lines is None):
            raise ValueError("a frequency_limit rule needs exactly one of max_units and max_lines")
        return self

    def check(self, claim: Claim) -> Iterator[Finding]:
        groups: dict[tuple[str, date | None], list[int]] = defaultdict(list)
        for i in self.selected_lines(claim):
            key = "+".join(self.when.codes) if self.combined else claim.lines[i].code
            groups[(key, claim.line_date(i) if self.per == "day" else None)].append(i)
        for (_, day), lines in groups.items():
            if self.max_units is not None:
                count: Decimal = sum((claim.lines[i].units for i in lines), Decimal(0))
                limit, unit = self.max_units, "units"
            else:
                count, limit, unit = Decimal(len(lines)), Decimal(self.max_lines or 0), "lines"
            if count <= limit:
                continue
            codes = list(dict.fromkeys(claim.lines[i].code for i in lines))
            values = {
                "code": ", ".join(codes),
                "lines": ", ".join(str(i + 1) for i in lines),
                "count": _num(count),
                "limit": _num(limit),
                "unit": unit,
                "per": self.per,
                "date": day.isoformat() if day else "",
            }
            yield self.finding(claim, lines, codes, values)


class PriorAuth(_Rule):
    KIND_FIX = (
        "Obtain prior authorization from {payer} for {code} before the service (or retroactively if the "
        "payer allows) and attach the authorization number to the claim (837P loop 2300 REF*G1)."
    )

    kind: Literal["prior_auth"]
    when: WhenCodes

    def check(self, claim: Claim) -> Iterator[Finding]:
        for i in self.selected_lines(claim):
            yield self.finding(claim, [i], [claim.lines[i].code], self.line_values(claim, i))


class NotCovered(_Rule):
    KIND_FIX = (
        "Do not bill {code} to {payer}: bill the patient if a signed advance notice is on file, or report "
        "the covered code that describes the service."
    )

    kind: Literal["not_covered"]
    when: WhenCodes

    def check(self, claim: Claim) -> Iterator[Finding]:
        for i in self.selected_lines(claim):
            yield self.finding(claim, [i], [claim.lines[i].code], self.line_values(claim, i))


class PrimaryDxNotAllowed(_Rule):
    PLACEHOLDERS = COMMON_PLACEHOLDERS | {"diagnosis", "date"}
    KIND_FIX = (
        "List first the diagnosis chiefly responsible for the services; {diagnosis} may be reported as a "
        "secondary diagnosis."
    )

    kind: Literal["primary_dx_not_allowed"]
    diagnoses: tuple[CodePattern, ...] = Field(min_length=1)
    _primary: CodeMatcher = PrivateAttr(default_factory=lambda: CodeMatcher(()))

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._primary = CodeMatcher(self.diagnoses)

    def check(self, claim: Claim) -> Iterator[Finding]:
        if not claim.diagnoses or not self._primary.matches(claim.diagnoses[0]):
            return
        lines = self.selected_lines(claim)
        if not lines:  # no line in force / selected
            return
        first = claim.diagnoses[0]
        day = min(claim.line_date(i) for i in lines)
        yield self.finding(claim, [], [first], {"diagnosis": first, "date": day.isoformat()})


class DiagnosisRequired(_Rule):
    PLACEHOLDERS = LINE_PLACEHOLDERS | {"diagnoses"}
    KIND_FIX = (
        "Point line {line} to a diagnosis {payer} accepts for {code} ({diagnoses}) if it is documented."
    )

    kind: Literal["diagnosis_required"]
    when: WhenCodes
    diagnoses: tuple[CodePattern, ...] = Field(min_length=1)
    _accepted: CodeMatcher = PrivateAttr(default_factory=lambda: CodeMatcher(()))

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._accepted = CodeMatcher(self.diagnoses)

    def check(self, claim: Claim) -> Iterator[Finding]:
        for i in self.selected_lines(claim):
            dx = _line_diagnoses(claim, claim.lines[i])
            if not any(self._accepted.matches(d) for d in dx):
                values = self.line_values(claim, i) | {"diagnoses": ", ".join(self.diagnoses)}
                yield self.finding(claim, [i], [claim.lines[i].code], values)


PackRule = Annotated[
    ModifierRequired | FrequencyLimit | PriorAuth | NotCovered | PrimaryDxNotAllowed | DiagnosisRequired,
    Field(discriminator="kind"),
]
KINDS = (
    "modifier_required",
    "frequency_limit",
    "prior_auth",
    "primary_dx_not_allowed",
    "not_covered",
    "diagnosis_required",
)
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "modifier_required": ModifierRequired.PLACEHOLDERS,
    "frequency_limit": FrequencyLimit.PLACEHOLDERS,
    "prior_auth": PriorAuth.PLACEHOLDERS,
    "primary_dx_not_allowed": PrimaryDxNotAllowed.PLACEHOLDERS,
    "not_covered": NotCovered.PLACEHOLDERS,
    "diagnosis_required": DiagnosisRequired.PLACEHOLDERS,
}


class PackFile(_Strict):
    pack: str = Field(min_length=1)
    description: str | None = None
    version: str | None = None
    applies_to: AppliesTo | None = None
    rules: tuple[PackRule, ...] = Field(min_length=1)


def _line_diagnoses(claim: Claim, line: Line) -> list[str]:
    if not line.dx_pointers:
        return list(claim.diagnoses)
    return [claim.diagnoses[p - 1] for p in line.dx_pointers if 1 <= p <= len(claim.diagnoses)]


def _num(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _check_template(text: str, allowed: frozenset[str]) -> None:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"{exc}; write {{{{ and }}}} for literal braces") from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in allowed or spec or conversion:
            shown = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ValueError(
                f"unknown placeholder {{{shown}}}"
                f"; this kind of rule offers {', '.join('{' + p + '}' for p in sorted(allowed))}"
            )


# --- packs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayerPack:
    """A loaded pack: its rules (already validated) and where it came from."""

    name: str
    source: str
    rules: tuple[_Rule, ...]
    applies_to: AppliesTo | None = None
    description: str | None = None

    def applies(self, rule: _Rule, claim: Claim) -> bool:
        scope = rule.applies_to or self.applies_to
        return scope is None or scope.covers(claim)

    def check(self, claim: Claim) -> Iterator[Finding]:
        for r in self.rules:
            if self.applies(r, claim):
                yield from r.check(claim)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.rules)


def load_pack(path: Path | str) -> PayerPack:
    """Read and validate one pack file; :class:`PackError` names the line and column of any problem."""
    p = Path(path)
    if not p.is_file():
        raise PackError(
            f"payer pack {path} does not exist.", "give the path of a pack YAML file (--rules PACK.yaml)."
        )
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PackError(
            f"{path}: byte {exc.start + 1} is not UTF-8 text.", "save the pack as UTF-8."
        ) from None
    return parse_pack(text, str(path))


def load_packs(paths: Iterable[Path | str | PayerPack]) -> tuple[PayerPack, ...]:
    """Several packs; two rules with the same id (across packs) are an error."""
    packs = tuple(p if isinstance(p, PayerPack) else load_pack(p) for p in paths)
    seen: dict[str, str] = {}
    for pack in packs:
        for rid in pack.rule_ids:
            if rid in seen:
                raise PackError(
                    f"rule {rid} is defined in both {seen[rid]} and {pack.source}.",
                    "give the rules different ids (the id after PAYER- must be unique across the packs).",
                )
            seen[rid] = pack.source
    return packs


def apply_packs(claim: Claim, packs: Iterable[PayerPack]) -> list[Finding]:
    """Findings of every pack rule that applies to the claim's payer, in pack and rule order."""
    return [f for pack in packs for f in pack.check(claim)]


def parse_pack(text: str, name: str = "<pack>") -> PayerPack:
    data, marks, key_marks = _compose(text, name)
    if not isinstance(data, dict):
        raise PackError(f"{name}: a pack is a YAML mapping with pack: and rules:.", PACK_FIX)
    try:
        model = PackFile.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc)
        problems = [_locate(err, data, marks, key_marks) for err in errors]
        first, rest = problems[0], problems[1:4]
        more = "".join(f"; {p}" for p in rest)
        extra = f" (and {len(problems) - 4} more)" if len(problems) > 4 else ""
        raise PackError(f"{name}, {first}{more}{extra}.", PACK_FIX) from None
    seen: dict[str, int] = {}
    for i, r in enumerate(model.rules):
        if r.id in seen:
            where = _where(marks, key_marks, ("rules", i, "id"))
            raise PackError(
                f"{name}, {where}: rules[{i}].id: {r.id} is already the id of rules[{seen[r.id]}].",
                "give every rule of a pack its own id.",
            )
        seen[r.id] = i
    return PayerPack(model.pack, name, tuple(model.rules), model.applies_to, model.description)


# --- YAML with positions ---------------------------------------------------------------------------

Path_ = tuple[str | int, ...]
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def _compose(text: str, name: str) -> tuple[Any, dict[Path_, yaml.Mark], dict[Path_, yaml.Mark]]:
    """Plain data (every scalar a string, plain nulls None) plus the mark of every value and key."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PackError(f"{name}{where}: YAML syntax: {exc.problem or exc.context}.", PACK_FIX) from None
    except yaml.YAMLError as exc:
        raise PackError(f"{name}: YAML syntax: {exc}.", PACK_FIX) from None
    finally:
        loader.dispose()
    if node is None:
        raise PackError(f"{name} is empty.", PACK_FIX)
    marks: dict[Path_, yaml.Mark] = {}
    key_marks: dict[Path_, yaml.Mark] = {}
    active: set[int] = set()

    def at(mark: yaml.Mark) -> str:
        return f"{name}, line {mark.line + 1}, column {mark.column + 1}"

    def convert(n: yaml.Node, path: Path_) -> Any:
        marks[path] = n.start_mark
        if isinstance(n, yaml.ScalarNode):
            value = str(n.value)
            return None if n.style is None and value in _NULLS else value
        if id(n) in active:
            raise PackError(f"{at(n.start_mark)}: {_show(path)}: a recursive alias.", PACK_FIX)
        active.add(id(n))
        try:
            if isinstance(n, yaml.SequenceNode):
                return [convert(item, (*path, i)) for i, item in enumerate(n.value)]
            assert isinstance(n, yaml.MappingNode)
            out: dict[str, Any] = {}
            for key_node, value_node in n.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise PackError(
                        f"{at(key_node.start_mark)}: {_show(path)}: keys must be plain words.", PACK_FIX
                    )
                key = str(key_node.value)
                if key in out:
                    raise PackError(
                        f"{at(key_node.start_mark)}: {_show((*path, key))}: duplicate key.", PACK_FIX
                    )
                key_marks[(*path, key)] = key_node.start_mark
                out[key] = convert(value_node, (*path, key))
            return out
        finally:
            active.discard(id(n))

    return convert(node, ()), marks, key_marks


def _show(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def _where(marks: dict[Path_, yaml.Mark], key_marks: dict[Path_, yaml.Mark], path: Path_) -> str:
    """``line L, column C`` of the deepest existing part of ``path`` (the key's position for a key)."""
    for cut in range(len(path), -1, -1):
        prefix = path[:cut]
        mark = key_marks.get(prefix) if prefix and isinstance(prefix[-1], str) else None
        mark = mark or marks.get(prefix)
        if mark is not None:
            return f"line {mark.line + 1}, column {mark.column + 1}"
    return "line 1, column 1"


def _locate(err: Any, data: Any, marks: dict[Path_, yaml.Mark], key_marks: dict[Path_, yaml.Mark]) -> str:
    """``line L, column C: rules[2].when.codes: message`` for one pydantic error."""
    path: list[str | int] = []
    node: Any = data
    for part in err["loc"]:
        if isinstance(node, dict) and isinstance(part, str) and part not in node and node.get("kind") == part:
            continue  # the discriminator tag pydantic adds for a rule kind
        path.append(part)
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "union_tag_not_found":
        msg = f"kind is missing; it is one of {', '.join(KINDS)}"
    elif kind == "union_tag_invalid":
        path.append("kind")
        msg = f"unknown kind {err.get('ctx', {}).get('tag', '')!r}; it is one of {', '.join(KINDS)}"
    elif kind == "too_short":
        msg = f"needs at least {err.get('ctx', {}).get('min_length', 1)} item(s)"
    elif kind == "missing":
        msg = "required key missing"
    else:
        msg = str(err["msg"]).removeprefix("Value error, ")
    full = tuple(path)
    return f"{_where(marks, key_marks, full)}: {_show(full)}: {msg}"
