"""Reading claims: one JSON object, a JSONL batch, or an X12 5010 837P file.

Every reader yields :class:`ClaimRecord` values: a validated :class:`~chartcode.edits.model.Claim`, or
the error that kept one claim from being read, with where it was (JSONL line or 837 segment number),
so that a batch goes on past a bad claim. A file that cannot be read at all (not JSON, a broken X12
envelope, an 837 that fails the implementation guide) raises an :class:`~chartcode.errors.InputError`
naming the position and the fix.

Pydantic errors become field-level messages such as ``claim C1: lines.1.units: Input should be greater
than 0``; positions in lists are 1-based, as on the claim form (line 1, diagnosis 1, modifier 1).

837P mapping (005010X222A1): CLM01 → id, CLM05-1 → place of service, SBR09 (claim filing indicator)
→ payer type, 2010BB NM1*PR → payer id and name, DMG of 2010CA (patient) or else 2010BA (subscriber)
→ sex and birth date, HI ABK then ABF → diagnoses in order (dotted), 2310B PRV03 → rendering specialty
(taxonomy), each 2400 LX/SV1 → a line: SV101 ``HC:code:mod1..4``, SV102 charge, SV104 units, SV105
place of service, SV107 pointers, DTP*472 date of service.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from chartcode.codesets.common import icd_dotted
from chartcode.edits.model import Claim, PayerType
from chartcode.errors import ChartcodeError, InputError

InputFormat = Literal["json", "jsonl", "x12"]

CLAIM_FIX = (
    "correct the field(s) named and check the claim again (the fields are those of "
    "chartcode.edits.model.Claim: id, patient, payer, place_of_service, date_of_service, "
    "rendering_specialty, diagnoses, lines)."
)
X12_FIX = (
    "correct the segment(s) named following the 5010 837P implementation guide (005010X222A1) and "
    "send the file again."
)


class ClaimInputError(InputError):
    """A claim (JSON object, JSONL line, or one claim of an 837) that does not fit the claim model."""

    code = "CC151"


class X12InputError(InputError):
    """An X12 file that is not a readable 5010 837P interchange (envelope, structure or element errors)."""

    code = "CC152"


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    """One claim read from the input, or the error that kept it from being read.

    ``position`` is the JSONL line number or the segment number of the 837 CLM segment (1-based,
    counting ISA as segment 1); ``where`` says which.
    """

    claim: Claim | None
    claim_id: str | None
    position: int | None = None
    where: Literal["line", "segment"] = "line"
    error: ChartcodeError | None = None

    def error_dict(self) -> dict[str, Any]:
        """``{"claim_id", "line"|"segment", "error": {code, message, fix}}`` for an error record."""
        assert self.error is not None
        return {"claim_id": self.claim_id, self.where: self.position, "error": self.error.to_dict()}


# --- claims from dictionaries -------------------------------------------------------------------


def parse_claim(data: object, *, where: str | None = None) -> Claim:
    """Validate one claim object; raise :class:`ClaimInputError` with field-level messages.

    ``where`` (e.g. ``"line 3"``) names the position when the claim has no usable id.
    ICD-10-CM diagnoses may be given with or without the dot (``E1122`` becomes ``E11.22``).
    """
    if isinstance(data, Claim):
        return data
    if not isinstance(data, Mapping):
        label = f"the claim at {where}" if where else "the claim"
        raise ClaimInputError(
            f"{label} is a JSON {_json_kind(data)}, not an object.",
            'give each claim as one JSON object: {"id": ..., "payer": {...}, "lines": [...]}.',
        )
    payload = dict(data)
    dx = payload.get("diagnoses")
    if isinstance(dx, list | tuple):
        payload["diagnoses"] = [icd_dotted(d) if isinstance(d, str) else d for d in dx]
    try:
        return Claim.model_validate(payload)
    except ValidationError as exc:
        raise ClaimInputError(f"{_claim_label(payload, where)}: {field_errors(exc)}.", CLAIM_FIX) from None


def field_errors(exc: ValidationError) -> str:
    """``lines.1.units: Input should be greater than 0; payer: Field required`` (1-based positions)."""
    parts = []
    for err in validation_errors(exc):
        loc = ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "too_short":
            msg = f"needs at least {err.get('ctx', {}).get('min_length', 1)} item(s)"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def validation_errors(exc: ValidationError) -> list[Any]:
    """Pydantic's errors without the "too short" it adds for a list whose items failed."""
    errors = exc.errors(include_url=False)
    return [
        e
        for e in errors
        if not (
            e["type"] == "too_short"
            and any(o is not e and tuple(o["loc"][: len(e["loc"])]) == tuple(e["loc"]) for o in errors)
        )
    ]


def _claim_id(data: Mapping[str, Any]) -> str | None:
    value = data.get("id")
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _claim_label(data: Mapping[str, Any], where: str | None) -> str:
    cid = _claim_id(data)
    if cid is not None:
        return f"claim {cid}" + (f" ({where})" if where else "")
    return f"the claim at {where}" if where else "the claim"


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


# --- JSON and JSONL ------------------------------------------------------------------------------


def claim_from_json(text: str, name: str = "<input>") -> Claim:
    """One claim from the text of a JSON document holding one object."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClaimInputError(
            f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
            "give one claim as a JSON object, or a .jsonl file with one claim object per line.",
        ) from None
    if isinstance(data, list):
        raise ClaimInputError(
            f"{name} holds a JSON array, not one claim object.",
            "for many claims write one JSON object per line in a .jsonl file.",
        )
    return parse_claim(data)


def iter_jsonl(lines: Iterable[str]) -> Iterator[ClaimRecord]:
    """One record per non-blank line; a bad line gives an error record and the batch goes on."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            error = ClaimInputError(
                f"line {number}: not valid JSON at column {exc.colno}: {exc.msg}.",
                "write one complete claim object per line (no line breaks inside a claim).",
            )
            yield ClaimRecord(None, None, number, "line", error)
            continue
        cid = _claim_id(data) if isinstance(data, Mapping) else None
        try:
            claim = parse_claim(data, where=f"line {number}")
        except ClaimInputError as exc:
            yield ClaimRecord(None, cid, number, "line", exc)
            continue
        yield ClaimRecord(claim, claim.id, number, "line")


# --- files ---------------------------------------------------------------------------------------


def detect_format(name: str, text: str) -> InputFormat:
    """From the file extension (.json, .jsonl/.ndjson, .837/.x12/.edi), else from the content."""
    suffix = Path(name).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".837", ".x12", ".edi"):
        return "x12"
    head = text.lstrip()
    if head.startswith("ISA"):
        return "x12"
    if head.startswith("{"):
        try:
            json.loads(text)
        except json.JSONDecodeError:
            return "jsonl"
        return "json"
    raise InputError(
        f"{name}: cannot tell what kind of claim file this is.",
        "give a .json file (one claim), a .jsonl file (one claim per line) or an X12 837P file (.837).",
    )


def read_claims(source: Path | str, fmt: InputFormat | None = None) -> Iterator[ClaimRecord]:
    """Claims from a file (or ``-`` for standard input), in input order."""
    name = "standard input" if str(source) == "-" else str(source)
    text = read_text(source)
    yield from claims_from_text(text, name, fmt or detect_format(name, text))


def claims_from_text(text: str, name: str, fmt: InputFormat) -> Iterator[ClaimRecord]:
    """Claims from the text of a JSON, JSONL or X12 837P document."""
    if fmt == "json":
        claim = claim_from_json(text, name)
        yield ClaimRecord(claim, claim.id, None, "line")
    elif fmt == "jsonl":
        yield from iter_jsonl(text.splitlines())
    else:
        yield from read_x12(text, name)


def read_text(source: Path | str) -> str:
    """The text of a claim file, or of standard input for ``-`` (UTF-8, a BOM is dropped)."""
    import sys

    if str(source) == "-":
        raw = sys.stdin.buffer.read()
        name = "standard input"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"file {source} does not exist.", "give the path of a claim file.")
        raw = path.read_bytes()
        name = str(source)
    if not raw.strip():
        raise InputError(f"{name} is empty.", "give a claim file with at least one claim.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: byte {exc.start + 1} is not UTF-8 text.", "save the file as UTF-8 (or ASCII for X12)."
        ) from None


# --- X12 837P ------------------------------------------------------------------------------------

ISA_LENGTH = 106
X12_VERSION = "005010X222A1"

# SBR09 claim filing indicator code -> payer type.
FILING_INDICATOR: dict[str, PayerType] = {
    "MA": "medicare",
    "MB": "medicare",
    "16": "medicare",  # HMO Medicare Risk (Medicare Advantage)
    "MC": "medicaid",
    "CH": "tricare",
    "WC": "workers_comp",
    **{
        code: "commercial"
        for code in ("CI", "BL", "HM", "12", "13", "14", "15", "17", "FI", "DS", "AM", "LM")
    },
    **{code: "other" for code in ("11", "OF", "TV", "VA", "ZZ")},
}


@dataclass(frozen=True, slots=True)
class X12Segment:
    position: int  # segment number in the file, ISA = 1
    loop: str  # implementation-guide loop id from pyx12's map (2300, 2400, ...)
    seg: Any  # pyx12.segment.Segment

    @property
    def id(self) -> str:
        return str(self.seg.get_seg_id())

    def value(self, ref: str) -> str:
        return str(self.seg.get_value(ref) or "").strip()


def read_x12(text: str, name: str = "<input>") -> list[ClaimRecord]:
    """Validate an X12 5010 837P interchange with pyx12 and map every 2300 claim to a record.

    Envelope, structure, count and element errors reject the whole file (:class:`X12InputError`,
    naming segment numbers); a claim whose content does not fit the claim model becomes an error
    record and the other claims are still read.
    """
    text = text.lstrip()
    _check_envelope(text, name)
    segments = _validated_segments(text, name)
    return _map_claims(segments, name)


def _check_envelope(text: str, name: str) -> None:
    """The ISA header, then GS08 and ST01 of every group and transaction (before pyx12 sees the file)."""
    isa = _check_isa(text, name)
    element, terminator = isa[3], isa[-1]
    for position, raw in enumerate(text.split(terminator), start=1):
        fields = raw.strip().split(element)
        if fields[0] == "GS" and (len(fields) < 9 or fields[8].strip() != X12_VERSION):
            found = fields[8].strip() if len(fields) > 8 else ""
            kind = " (an 837I, institutional)" if found.startswith("005010X223") else ""
            raise X12InputError(
                f"{name}: segment {position} (GS): GS08 {found!r}{kind} is not the 5010 837P "
                f"({X12_VERSION}); chartcode checks professional claims.",
                f"send the professional claims as a 5010 837P (GS01 HC, GS08 {X12_VERSION}).",
            )
        if fields[0] == "ST" and (len(fields) < 2 or fields[1].strip() != "837"):
            found = fields[1].strip() if len(fields) > 1 else ""
            raise X12InputError(
                f"{name}: segment {position} (ST): transaction set {found!r} is not an 837.",
                "send a 5010 837P claim file (ST01 837).",
            )


def _check_isa(text: str, name: str) -> str:
    start = len(text) - len(text.lstrip())
    body = text[start:]
    if not body.startswith("ISA"):
        raise X12InputError(
            f"{name}: segment 1 must be the ISA interchange header; the file starts with {body[:20]!r}.",
            "give an X12 837P file (ISA … IEA), or a .json / .jsonl claim file.",
        )
    isa = body[:ISA_LENGTH]
    separator = isa[3] if len(isa) > 3 else "*"
    terminator = isa[-1] if len(isa) == ISA_LENGTH else ""
    if len(isa) < ISA_LENGTH or isa.count(separator) != 16 or terminator.isalnum() or terminator == " ":
        found = body.split("~", 1)[0] if "~" in body else body
        raise X12InputError(
            f"{name}: segment 1 (ISA) is {len(found)} characters with {found.count(separator)} separators; "
            f"an ISA is exactly {ISA_LENGTH} characters with 16 elements of fixed width and ends with the "
            "segment terminator.",
            "pad every ISA element to its fixed width (ISA02/ISA04 10, ISA06/ISA08 15, ISA13 9 characters) "
            "and end the segment with its terminator (usually ~).",
        )
    version = isa[84:89]
    if version != "00501":
        raise X12InputError(
            f"{name}: segment 1 (ISA): ISA12 version {version!r} is not 00501; chartcode reads 5010 837P "
            "files.",
            "send the claims as a 5010 837P (ISA12 00501, GS08 005010X222A1).",
        )
    return isa


def _pyx12_logger() -> None:
    logger = logging.getLogger("pyx12")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())  # errors are reported through X12InputError instead
    # pyx12 logs the text of segments it rejects (an NM1 name, a member id): its records stay out of
    # the application's logs; every problem reaches the user through a ChartcodeError instead.
    logger.propagate = False


def run_pyx12(
    text: str, name: str, error: Callable[[str, str], ChartcodeError], guide_fix: str, read_fix: str
) -> tuple[list[X12Segment], list[str], bool]:
    """Validate an X12 file with pyx12 and collect its segments: ``(segments, problems, ok)``, the
    problems as ``segment N (ID): message`` with identifying values withheld. A file pyx12 cannot read
    at all raises ``error(message, fix)`` (``guide_fix`` when no implementation guide matches)."""
    import pyx12.errors  # type: ignore[import-untyped]
    import pyx12.params  # type: ignore[import-untyped]
    import pyx12.x12n_document  # type: ignore[import-untyped]

    _pyx12_logger()
    segments: list[X12Segment] = []

    def collect(seg: Any, src: Any, node: Any, valid: bool) -> None:
        parent = getattr(node, "parent", None)
        segments.append(X12Segment(int(src.get_cur_line()), str(getattr(parent, "id", "") or ""), seg))

    report = io.StringIO()
    try:
        ok = pyx12.x12n_document.x12n_document(
            pyx12.params.ParamsBase(), io.StringIO(text), None, None, None, report, callback=collect
        )
    except pyx12.errors.EngineError as exc:
        position = segments[-1].position + 1 if segments else 1
        detail = " ".join(str(exc).replace("Map not found.", "no implementation guide for").split())
        raise error(f"{name}: segment {position}: pyx12 cannot read the file: {detail}.", guide_fix) from None
    except (pyx12.errors.X12Error, UnicodeError, ValueError) as exc:
        raise error(f"{name}: not a readable X12 file: {exc}.", read_fix) from None
    return segments, _pyx12_problems(report.getvalue()), bool(ok)


def _validated_segments(text: str, name: str) -> list[X12Segment]:
    segments, problems, ok = run_pyx12(
        text, name, X12InputError, f"send a 5010 837P (GS01 HC, GS08 and ST03 {X12_VERSION}).", X12_FIX
    )
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise X12InputError(
            f"{name} fails 837P validation ({len(problems)} error(s)): {shown}{more}.",
            _x12_fix(problems[0]),
        )
    if not ok:
        raise X12InputError(f"{name} fails X12 validation (pyx12 gave no detail).", X12_FIX)
    return segments


def _pyx12_problems(report: str) -> list[str]:
    """``segment N (ID): message`` for every error in pyx12's JSON error report, in file order."""
    if not report.strip():
        return []
    doc = json.loads(report)
    found: list[tuple[int, str]] = []

    def add(position: object, seg_id: str | None, errors: list[dict[str, Any]]) -> None:
        for err in errors:
            text = _readable(str(err.get("err_str", "")).strip())
            pos = position if isinstance(position, int) else 0
            where = f"segment {pos}" if pos else "the file"
            said = f"{where} ({seg_id}): {text}" if seg_id else f"{where}: {text}"
            found.append((pos, withhold_identifying(said)))

    for isa in doc.get("interchanges", []):
        add(isa.get("cur_line"), "ISA/IEA", isa.get("errors", []))
        for gs in isa.get("groups", []):
            add(gs.get("cur_line"), "GS/GE", gs.get("errors", []))
            for st in gs.get("transactions", []):
                add(st.get("cur_line"), "ST/SE", st.get("errors", []))
                for seg in st.get("segments", []):
                    add(seg.get("cur_line"), seg.get("seg_id"), seg.get("errors", []))
                    for ele in seg.get("elements", []):
                        add(seg.get("cur_line"), seg.get("seg_id"), ele.get("errors", []))
    found.sort(key=lambda p: p[0])
    return [text for _, text in found]


# Segments whose element values can name a person (patient, subscriber, provider names, member ids,
# addresses, phone numbers): their values never appear in an error message.
_IDENTIFYING = ("NM1", "REF", "N3", "N4", "PER", "DMG")


def withhold_identifying(problem: str) -> str:
    """A pyx12 problem with identifying values withheld: ``segment NM1*QC*1*DOE*JANE is not allowed``
    keeps the segment id and its qualifier; an element-level problem of a segment that can identify a
    person names the element and what is wrong, not its value."""
    import re

    problem = re.sub(
        r"segment (\w+)((?:\*[^*\s]*)?)\S* is not allowed", r"segment \1\2 is not allowed", problem
    )
    m = re.match(r"(segment \d+|the file) \((\w+)\): (?!segment \w+\S* is not allowed)(.*)", problem)
    element_level = m is not None and any(
        k in m.group(3) for k in ("Data element", "is not a valid code", "len(", "invalid character")
    )
    if m and element_level and m.group(2) in _IDENTIFYING:
        element = re.search(rf"\(({m.group(2)}\d{{2}}(?:-\d+)?)\)", m.group(3))
        what = f"element {element.group(1)}" if element else "an element"
        kind = next((k for k in ("too long", "too short") if k in m.group(3)), "invalid")
        return f"{m.group(1)} ({m.group(2)}): {what} is {kind} (value withheld: it may identify a person)"
    return problem


def _readable(text: str) -> str:
    """pyx12 wording made plainer where it is cryptic."""
    import re

    m = re.fullmatch(r"Segment (\S+) not found\.\s+Started at (\S+)", text)
    if m:
        after = "/".join(m.group(2).split("/")[-2:])
        return (
            f"segment {m.group(1)} is not allowed here (after {after}): a required segment before it is "
            "missing or it is out of order"
        )
    return text.rstrip(".")


def _x12_fix(message: str) -> str:
    lowered = message.lower()
    if "count" in lowered and ("se " in lowered or "(st/se)" in lowered):
        return "set SE01 to the number of segments from ST to SE inclusive, then send the file again."
    if "(gs/ge)" in lowered:
        return "make GE01 the number of ST transactions in the group and GE02 equal GS06."
    if "(isa/iea)" in lowered:
        return "end the interchange with IEA*<number of GS groups>*<ISA13>~ and send the file again."
    if "lx01" in lowered:
        return "number the 2400 LX segments 1, 2, 3 … within each claim."
    return X12_FIX


class _Draft:
    """A claim being assembled from 2300/2400 segments."""

    def __init__(self, clm: X12Segment, patient: dict[str, Any], payer: dict[str, Any]) -> None:
        self.position = clm.position
        self.id = clm.value("CLM01")
        self.data: dict[str, Any] = {
            "id": self.id,
            "patient": dict(patient),
            "payer": dict(payer),
            "place_of_service": clm.value("CLM05-1") or None,
            "diagnoses": [],
            "lines": [],
        }
        self.principal: list[str] = []
        self.others: list[str] = []
        self.problems: list[str] = []

    def record(self, name: str) -> ClaimRecord:
        self.data["diagnoses"] = self.principal + self.others
        if self.problems:
            error = X12InputError(
                f"{name}: claim {self.id} (segment {self.position}): " + "; ".join(self.problems) + ".",
                X12_FIX,
            )
            return ClaimRecord(None, self.id, self.position, "segment", error)
        try:
            claim = parse_claim(self.data, where=f"segment {self.position}")
        except ClaimInputError as exc:
            return ClaimRecord(None, self.id, self.position, "segment", exc)
        return ClaimRecord(claim, claim.id, self.position, "segment")


def _d8(value: str) -> str | None:
    """CCYYMMDD (or the first date of CCYYMMDD-CCYYMMDD) as ISO text."""
    value = value.split("-")[0]
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()
    except ValueError:
        return None


def _map_claims(segments: list[X12Segment], name: str) -> list[ClaimRecord]:
    records: list[ClaimRecord] = []
    subscriber: dict[str, Any] = {}
    patient: dict[str, Any] | None = None
    payer: dict[str, Any] = {}
    draft: _Draft | None = None
    line: dict[str, Any] | None = None

    def flush() -> None:
        nonlocal draft, line
        if draft is not None:
            records.append(draft.record(name))
        draft, line = None, None

    for s in segments:
        sid, loop = s.id, s.loop
        if sid in ("ST", "SE", "GS", "GE", "ISA", "IEA") or (sid == "HL"):
            flush()
            if sid == "HL" and loop == "2000B":
                subscriber, patient, payer = {}, None, {}
            elif sid == "HL" and loop == "2000C":
                patient = {}
            continue
        if sid == "SBR" and loop == "2000B":
            payer["type"] = FILING_INDICATOR.get(s.value("SBR09"), "other")
        elif sid == "DMG" and loop in ("2010BA", "2010CA"):
            target = subscriber if loop == "2010BA" else patient
            if target is not None:
                target.update(_demographics(s))
        elif sid == "NM1" and loop == "2010BB":
            payer["id"] = s.value("NM109")
            payer["name"] = s.value("NM103") or None
        elif sid == "CLM" and loop == "2300":
            flush()
            who = patient if patient is not None else subscriber
            draft = _Draft(s, who, payer)
        elif draft is None:
            continue
        elif sid == "HI" and loop == "2300":
            _diagnoses(s, draft)
        elif sid == "PRV" and loop == "2310B":
            draft.data["rendering_specialty"] = s.value("PRV03") or None
        elif sid == "LX" and loop == "2400":
            line = {}
            draft.data["lines"].append(line)
        elif sid == "SV1" and loop == "2400" and line is not None:
            _service_line(s, line, draft)
        elif sid == "DTP" and loop == "2400" and line is not None and s.value("DTP01") == "472":
            day = _d8(s.value("DTP03"))
            if day is None:
                draft.problems.append(f"segment {s.position} (DTP*472): {s.value('DTP03')!r} is not a date")
            line["date_of_service"] = day
    flush()
    return records


def _demographics(s: X12Segment) -> dict[str, Any]:
    out: dict[str, Any] = {}
    born = _d8(s.value("DMG02")) if s.value("DMG01") == "D8" else None
    if born:
        out["birth_date"] = born
    sex = s.value("DMG03")
    if sex in ("F", "M", "U"):
        out["sex"] = sex
    return out


def _diagnoses(s: X12Segment, draft: _Draft) -> None:
    for i in range(1, 13):
        qualifier = s.value(f"HI{i:02d}-1")
        code = s.value(f"HI{i:02d}-2")
        if not qualifier:
            continue
        if qualifier == "ABK":
            draft.principal.append(icd_dotted(code))
        elif qualifier == "ABF":
            draft.others.append(icd_dotted(code))
        elif qualifier in ("BK", "BF"):
            draft.problems.append(
                f"segment {s.position} (HI{i:02d}): qualifier {qualifier} is ICD-9-CM; 5010 claims for "
                "dates after 2015-10-01 use ICD-10-CM (ABK principal, ABF other)"
            )


def _service_line(s: X12Segment, line: dict[str, Any], draft: _Draft) -> None:
    qualifier = s.value("SV101-1")
    if qualifier != "HC":
        draft.problems.append(
            f"segment {s.position} (SV101-1): product/service qualifier {qualifier!r} is not HC "
            "(CPT/HCPCS); chartcode checks HCPCS/CPT lines"
        )
    line["code"] = s.value("SV101-2")
    line["modifiers"] = [m for m in (s.value(f"SV101-{k}") for k in range(3, 7)) if m]
    line["charge"] = s.value("SV102") or None
    line["units"] = s.value("SV104") or "1"
    if s.value("SV105"):
        line["place_of_service"] = s.value("SV105")
    pointers = []
    for k in range(1, 5):
        raw = s.value(f"SV107-{k}")
        if raw:
            if not raw.isdigit():
                draft.problems.append(f"segment {s.position} (SV107-{k}): pointer {raw!r} is not a number")
            else:
                pointers.append(int(raw))
    line["dx_pointers"] = pointers
