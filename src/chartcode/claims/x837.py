"""X12 5010 837P (005010X222A1) out and back in.

:func:`to_837p` writes one interchange (ISA/GS/ST … SE/GE/IEA) holding the claims; every claim gets
its billing provider (2000A/2010AA), subscriber (2000B/2010BA, payer 2010BB) and, when the patient is
not the subscriber, patient (2000C/2010CA) hierarchical levels, then 2300 CLM, DTP*431, REF*G1,
REF*F8, HI, 2310B rendering provider and 2400 LX/SV1/DTP*472/REF*6R per line. The text is validated
with pyx12 (through :mod:`chartcode.edits.io`, which the scrubber's 837P reader uses as well) before
anything is returned; :func:`write_837p` writes to a temporary file beside the target and moves it in
place only when validation passed, so a failed claim leaves nothing behind.

:func:`read_837p` reads such a file back into :class:`~chartcode.claims.model.EncounterClaim` values.

Mapping (writer and reader agree):

* ISA06/GS02 ← submitter.id, ISA08/GS03 ← receiver.id; 1000A NM1*41 + PER*IC ← submitter, 1000B NM1*40
  ← receiver. ISA13 = IEA02, GS06 = GE02, ST02 = SE02; SE01 counts ST…SE; GE01 the transactions;
  IEA01 the groups.
* 2000A PRV*BI*PXC ← billing taxonomy; 2010AA NM1*85 (XX NPI), N3, N4, REF*EI (or REF*SY for an SSN).
* 2000B SBR*P*<18 when self>*<group>******<filing indicator>; 2010BA NM1*IL (MI member id), N3, N4,
  DMG; 2010BB NM1*PR (PI payer id), N3/N4 when the payer has an address.
* 2000C PAT*<relationship>; 2010CA NM1*QC, N3, N4, DMG.
* 2300 CLM*id*total***POS:B:frequency*Y*A*Y*Y; DTP*431 onset; REF*G1 prior authorization; REF*F8
  original claim; HI ABK then ABF (no dots); 2310B NM1*82 (XX NPI), PRV*PE*PXC taxonomy.
* 2400 LX*n; SV1*HC:code:mods*charge*UN*units*POS (only when the line's differs)**pointers;
  DTP*472*D8; REF*6R line control number.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from chartcode.claims.model import (
    RELATIONSHIP_NAMES,
    Address,
    EncounterClaim,
    EncounterClaimError,
    Provider,
    parse_encounter,
)
from chartcode.codesets.common import icd_dotted
from chartcode.edits.io import (
    FILING_INDICATOR,
    X12_VERSION,
    X12InputError,
    X12Segment,
    _check_envelope,
    _d8,
    _validated_segments,
    read_text,
)
from chartcode.errors import ChartcodeError

ELEMENT, COMPONENT, REPETITION, TERMINATOR = "*", ":", "^", "~"


class X12WriteError(ChartcodeError):
    """The 837P built from a claim fails X12 validation; nothing was written."""

    code = "CC501"


class X12ReadError(ChartcodeError):
    """An 837P that cannot be read back into encounter claims."""

    code = "CC502"


@dataclass(frozen=True, slots=True)
class EnvelopeOptions:
    """Control numbers, timestamp and usage of the interchange (ISA13/GS06/ST02, ISA09/10, ISA15)."""

    control_number: int = 1
    created: datetime | None = None  # default: now
    usage: Literal["P", "T"] = "P"  # production or test
    batch_reference: str | None = None  # BHT03; default "B" + control number

    def __post_init__(self) -> None:
        if not 1 <= self.control_number <= 999_999_999:
            raise X12WriteError(
                f"control number {self.control_number} is out of range.",
                "give an interchange control number from 1 to 999999999.",
            )


Element = str | list[str]


class _Builder:
    def __init__(self) -> None:
        self.segments: list[list[Element]] = []

    def add(self, *elements: Element | None) -> None:
        values: list[Element] = [e if e is not None else "" for e in elements]
        while len(values) > 1 and values[-1] in ("", []):
            values.pop()
        self.segments.append(values)

    @staticmethod
    def text(segment: list[Element]) -> str:
        parts = []
        for e in segment:
            if isinstance(e, list):
                while e and e[-1] == "":
                    e = e[:-1]
                parts.append(COMPONENT.join(e))
            else:
                parts.append(e)
        return ELEMENT.join(parts) + TERMINATOR


def _amount(value: Decimal | float | int) -> str:
    """X12 R (decimal) without trailing zeros: 150, 75.5, 0.25."""
    return format(Decimal(str(value)).quantize(Decimal("0.01")).normalize(), "f")


def _d8_text(day: date) -> str:
    return day.strftime("%Y%m%d")


def _address(b: _Builder, address: Address) -> None:
    b.add("N3", address.line1, address.line2)
    b.add("N4", address.city, address.state, address.postal_code)


def _provider_nm1(b: _Builder, entity: str, p: Provider) -> None:
    if p.is_person:
        b.add("NM1", entity, "1", p.last_name, p.first_name, "", "", "", "XX", p.npi)
    else:
        b.add("NM1", entity, "2", p.organization, "", "", "", "", "XX", p.npi)


def _claim_segments(b: _Builder, claim: EncounterClaim, hl: int) -> int:
    """Segments of one claim from its 2000A on; returns the next HL id."""
    bp = claim.billing_provider
    billing_hl = hl
    b.add("HL", str(billing_hl), "", "20", "1")
    if bp.taxonomy:
        b.add("PRV", "BI", "PXC", bp.taxonomy)
    _provider_nm1(b, "85", bp)
    assert bp.address is not None and bp.tax_id is not None  # model validator
    _address(b, bp.address)
    b.add("REF", "EI" if bp.tax_id_type == "EIN" else "SY", bp.tax_id)

    sub = claim.subscriber
    if claim.payer.filing_indicator is None:
        raise X12WriteError(
            f"claim {claim.id}: payer type {claim.payer.type} has no 837P claim filing indicator (SBR09); a "
            "self-pay encounter is billed to the patient, not sent as an 837P.",
            "give the payer's type (medicare, medicaid, commercial, …) or payer.filing_indicator, or use "
            "--format html or json for the patient's bill.",
        )
    subscriber_hl = billing_hl + 1
    has_patient_level = not claim.patient_is_subscriber
    b.add("HL", str(subscriber_hl), str(billing_hl), "22", "1" if has_patient_level else "0")
    payer = claim.payer
    b.add(
        "SBR",
        "P",
        "18" if claim.patient_is_subscriber else "",
        sub.group_number,
        "",
        "",
        "",
        "",
        "",
        payer.filing_indicator,
    )
    b.add("NM1", "IL", "1", sub.last_name, sub.first_name, "", "", "", "MI", sub.member_id)
    if sub.address is not None:
        _address(b, sub.address)
    if sub.birth_date is not None and sub.sex is not None:
        b.add("DMG", "D8", _d8_text(sub.birth_date), sub.sex)
    b.add("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.id)
    if payer.address is not None:
        _address(b, payer.address)
    next_hl = subscriber_hl + 1
    if has_patient_level:
        pt = claim.patient
        b.add("HL", str(next_hl), str(subscriber_hl), "23", "0")
        b.add("PAT", pt.relationship)
        b.add("NM1", "QC", "1", pt.last_name, pt.first_name)
        assert pt.address is not None and pt.birth_date is not None and pt.sex is not None
        _address(b, pt.address)
        b.add("DMG", "D8", _d8_text(pt.birth_date), pt.sex)
        next_hl += 1

    pos = claim.place_of_service or claim.line_pos(0)
    if pos is None:
        raise X12WriteError(
            f"claim {claim.id}: no place of service (CLM05-1).",
            "give place_of_service on the claim (e.g. 11 for an office).",
        )
    for number, line in enumerate(claim.lines, start=1):
        if line.charge is None:
            raise X12WriteError(
                f"claim {claim.id}: lines.{number}.charge is missing; an 837P line needs its charge (SV102).",
                "give each line a charge, or price the claim with a practice fee schedule (--fees CSV).",
            )
    total = sum((line.charge or Decimal(0) for line in claim.lines), Decimal(0))
    b.add(
        "CLM",
        claim.id,
        _amount(total),
        "",
        "",
        [pos, "B", claim.frequency_code],
        "Y",
        "A",
        "Y",
        "Y",
    )
    if claim.onset_date is not None:
        b.add("DTP", "431", "D8", _d8_text(claim.onset_date))
    if claim.prior_authorization:
        b.add("REF", "G1", claim.prior_authorization)
    if claim.original_claim_number:
        b.add("REF", "F8", claim.original_claim_number)
    hi: list[Element] = ["HI"]
    for i, code in enumerate(claim.diagnoses):
        hi.append(["ABK" if i == 0 else "ABF", code.replace(".", "")])
    b.segments.append(hi)
    rp = claim.rendering_provider
    if rp is not None:
        _provider_nm1(b, "82", rp)
        if rp.taxonomy:
            b.add("PRV", "PE", "PXC", rp.taxonomy)
    for number, line in enumerate(claim.lines, start=1):
        b.add("LX", str(number))
        line_pos = line.place_of_service if line.place_of_service not in (None, pos) else ""
        assert line.charge is not None
        b.add(
            "SV1",
            ["HC", line.code, *line.modifiers],
            _amount(line.charge),
            "UN",
            _amount(line.units),
            line_pos,
            "",
            [str(p) for p in line.dx_pointers],
        )
        b.add("DTP", "472", "D8", _d8_text(claim.line_date(number - 1)))
        if line.control_number:
            b.add("REF", "6R", line.control_number)
    return next_hl


def to_837p(claims: EncounterClaim | Sequence[EncounterClaim], options: EnvelopeOptions | None = None) -> str:
    """The 837P interchange text for ``claims`` (one ST transaction), validated with pyx12.

    Raises :class:`X12WriteError` naming the segment when the result fails 5010 837P validation.
    """
    items = [claims] if isinstance(claims, EncounterClaim) else list(claims)
    if not items:
        raise X12WriteError("no claims to write.", "give at least one claim.")
    opts = options or EnvelopeOptions()
    first = items[0]
    for c in items[1:]:
        if c.submitter != first.submitter or c.receiver != first.receiver:
            raise X12WriteError(
                f"claim {c.id} has another submitter or receiver than claim {first.id}; one interchange "
                "has one sender and one receiver.",
                "write claims for different receivers to different files.",
            )
    created = opts.created or datetime.now()
    ctl = f"{opts.control_number:09d}"
    group = str(opts.control_number)
    st_ctl = "0001"
    isa = (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{first.submitter.id:<15}*ZZ*{first.receiver.id:<15}*"
        f"{created:%y%m%d}*{created:%H%M}*{REPETITION}*00501*{ctl}*0*{opts.usage}*{COMPONENT}{TERMINATOR}"
    )
    b = _Builder()
    b.add("ST", "837", st_ctl, X12_VERSION)
    b.add(
        "BHT", "0019", "00", opts.batch_reference or f"B{ctl}", f"{created:%Y%m%d}", f"{created:%H%M}", "CH"
    )
    sub = first.submitter
    b.add("NM1", "41", "2", sub.name, "", "", "", "", "46", sub.id)
    b.add("PER", "IC", sub.contact_name or sub.name, "TE" if sub.contact_phone else "", sub.contact_phone)
    b.add("NM1", "40", "2", first.receiver.name, "", "", "", "", "46", first.receiver.id)
    hl = 1
    for claim in items:
        hl = _claim_segments(b, claim, hl)
    b.add("SE", str(len(b.segments) + 1), st_ctl)
    lines = [
        isa,
        _Builder.text(
            [
                "GS",
                "HC",
                first.submitter.id,
                first.receiver.id,
                f"{created:%Y%m%d}",
                f"{created:%H%M}",
                group,
                "X",
                X12_VERSION,
            ]
        ),
        *(_Builder.text(s) for s in b.segments),
        _Builder.text(["GE", "1", group]),
        _Builder.text(["IEA", "1", ctl]),
    ]
    text = "\n".join(lines) + "\n"
    validate_837p(text, name=f"the 837P built from {len(items)} claim(s)")
    return text


def validate_837p(text: str, name: str = "the 837P") -> None:
    """pyx12 validation (envelope, loops, segments, elements, counts); :class:`X12WriteError` on failure."""
    try:
        _check_envelope(text, name)
        _validated_segments(text, name)
    except X12InputError as exc:
        raise X12WriteError(
            f"{_redact(exc.message)} Nothing was written.",
            "correct the claim field behind the segment named (the 837P is built from the claim) and write "
            "it again.",
        ) from None


def _redact(message: str) -> str:
    """pyx12 quotes element values (member ids, names): keep the element and the limit, drop the value."""
    return re.sub(r'len\(".*?"\)', "len(value)", message)


def write_837p(
    claims: EncounterClaim | Sequence[EncounterClaim],
    path: Path | str,
    options: EnvelopeOptions | None = None,
) -> Path:
    """Build, validate, then write atomically: a temporary file beside ``path`` is moved in place."""
    text = to_837p(claims, options)
    return atomic_write(Path(path), text)


def atomic_write(target: Path, text: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# --- reading --------------------------------------------------------------------------------------


def read_837p(source: Path | str) -> list[EncounterClaim]:
    """Every claim of a 5010 837P file as an :class:`EncounterClaim` (pyx12-validated first)."""
    name = str(source)
    return parse_837p(read_text(source), name)


def parse_837p(text: str, name: str = "<input>") -> list[EncounterClaim]:
    text = text.lstrip()
    try:
        _check_envelope(text, name)
        segments = _validated_segments(text, name)
    except X12InputError as exc:
        raise X12ReadError(_redact(exc.message), exc.fix) from None
    return _Reader(name).run(segments)


def _addr(fields: dict[str, Any], s: X12Segment) -> None:
    if s.id == "N3":
        fields["line1"] = s.value("N301")
        if s.value("N302"):
            fields["line2"] = s.value("N302")
    else:
        fields["city"] = s.value("N401")
        fields["state"] = s.value("N402")
        fields["postal_code"] = s.value("N403")


def _provider(s: X12Segment) -> dict[str, Any]:
    out: dict[str, Any] = {"npi": s.value("NM109")}
    if s.value("NM102") == "2":
        out["organization"] = s.value("NM103")
    else:
        out["last_name"] = s.value("NM103")
        if s.value("NM104"):
            out["first_name"] = s.value("NM104")
    return out


class _Reader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.claims: list[EncounterClaim] = []
        self.submitter: dict[str, Any] = {}
        self.receiver: dict[str, Any] = {}
        self.billing: dict[str, Any] = {}
        self.subscriber: dict[str, Any] = {}
        self.patient: dict[str, Any] = {}
        self.payer: dict[str, Any] = {}
        self.claim: dict[str, Any] | None = None
        self.claim_position = 0
        self.line: dict[str, Any] | None = None
        self.target: dict[str, Any] = {}  # where N3/N4 go

    def flush(self) -> None:
        if self.claim is None:
            return
        data = self.claim
        data["billing_provider"] = self.billing
        data["submitter"] = self.submitter
        data["receiver"] = self.receiver
        data["subscriber"] = dict(self.subscriber)
        data["payer"] = dict(self.payer)
        patient = dict(self.patient) if self.patient else {"relationship": "18"}
        data["patient"] = patient
        try:
            self.claims.append(
                parse_encounter(data, name=f"{self.name}: claim at segment {self.claim_position}")
            )
        except EncounterClaimError as exc:
            raise X12ReadError(exc.message, exc.fix) from None
        self.claim, self.line = None, None

    def run(self, segments: list[X12Segment]) -> list[EncounterClaim]:
        for s in segments:
            self.segment(s)
        self.flush()
        return self.claims

    def segment(self, s: X12Segment) -> None:
        sid, loop = s.id, s.loop
        if sid in ("ISA", "GS", "ST", "SE", "GE", "IEA"):
            self.flush()
            return
        if sid == "NM1" and loop == "1000A":
            self.submitter = {"id": s.value("NM109"), "name": s.value("NM103")}
        elif sid == "PER" and loop == "1000A":
            self.submitter["contact_name"] = s.value("PER02")
            if s.value("PER03") == "TE":
                self.submitter["contact_phone"] = s.value("PER04")
        elif sid == "NM1" and loop == "1000B":
            self.receiver = {"id": s.value("NM109"), "name": s.value("NM103")}
        elif sid == "HL":
            self.flush()
            level = s.value("HL03")
            if level == "20":
                self.billing = {}
            elif level == "22":
                self.subscriber, self.patient, self.payer = {}, {}, {}
            elif level == "23":
                self.patient = {}
        elif sid == "PRV" and loop == "2000A":
            self.billing["taxonomy"] = s.value("PRV03")
        elif sid == "NM1" and loop == "2010AA":
            self.billing.update(_provider(s))
            self.billing["address"] = self.target = {}
        elif sid == "REF" and loop == "2010AA" and s.value("REF01") in ("EI", "SY"):
            self.billing["tax_id"] = s.value("REF02")
            self.billing["tax_id_type"] = "EIN" if s.value("REF01") == "EI" else "SSN"
        elif sid == "SBR" and loop == "2000B":
            if s.value("SBR03"):
                self.subscriber["group_number"] = s.value("SBR03")
            filing = s.value("SBR09")
            self.payer["filing_indicator"] = filing
            self.payer["type"] = FILING_INDICATOR.get(filing, "other")
        elif sid == "NM1" and loop == "2010BA":
            self.subscriber.update(last_name=s.value("NM103"), member_id=s.value("NM109"))
            if s.value("NM104"):
                self.subscriber["first_name"] = s.value("NM104")
            self.subscriber["address"] = self.target = {}
        elif sid == "NM1" and loop == "2010BB":
            self.payer.update(id=s.value("NM109"), name=s.value("NM103"))
            self.payer["address"] = self.target = {}
        elif sid == "PAT" and loop == "2000C":
            self.patient["relationship"] = s.value("PAT01")
        elif sid == "NM1" and loop == "2010CA":
            self.patient["last_name"] = s.value("NM103")
            if s.value("NM104"):
                self.patient["first_name"] = s.value("NM104")
            self.patient["address"] = self.target = {}
        elif sid in ("N3", "N4") and loop in ("2010AA", "2010BA", "2010BB", "2010CA"):
            _addr(self.target, s)
        elif sid == "DMG" and loop in ("2010BA", "2010CA"):
            who = self.subscriber if loop == "2010BA" else self.patient
            who["birth_date"] = _d8(s.value("DMG02"))
            who["sex"] = s.value("DMG03")
        elif sid == "CLM" and loop == "2300":
            self.flush()
            self._drop_empty_addresses()
            self.claim_position = s.position
            self.claim = {
                "id": s.value("CLM01"),
                "place_of_service": s.value("CLM05-1"),
                "frequency_code": s.value("CLM05-3"),
                "diagnoses": [],
                "lines": [],
            }
        elif self.claim is not None:
            self._claim_segment(s)

    def _drop_empty_addresses(self) -> None:
        for who in (self.billing, self.subscriber, self.patient, self.payer):
            if who.get("address") == {}:
                del who["address"]
        if self.patient and "relationship" not in self.patient:
            self.patient["relationship"] = "18"
        if not self.patient:
            self.patient = {"relationship": "18"}

    def _claim_segment(self, s: X12Segment) -> None:
        assert self.claim is not None
        sid, loop = s.id, s.loop
        if sid == "DTP" and loop == "2300" and s.value("DTP01") == "431":
            self.claim["onset_date"] = _d8(s.value("DTP03"))
        elif sid == "REF" and loop == "2300" and s.value("REF01") == "G1":
            self.claim["prior_authorization"] = s.value("REF02")
        elif sid == "REF" and loop == "2300" and s.value("REF01") == "F8":
            self.claim["original_claim_number"] = s.value("REF02")
        elif sid == "HI" and loop == "2300":
            principal, others = [], []
            for i in range(1, 13):
                qualifier, code = s.value(f"HI{i:02d}-1"), s.value(f"HI{i:02d}-2")
                if qualifier == "ABK":
                    principal.append(icd_dotted(code))
                elif qualifier == "ABF":
                    others.append(icd_dotted(code))
                elif qualifier:
                    raise X12ReadError(
                        f"{self.name}: segment {s.position} (HI{i:02d}): qualifier {qualifier} is not "
                        "ICD-10-CM "
                        "(ABK principal, ABF other).",
                        "send ICD-10-CM diagnoses with ABK/ABF qualifiers.",
                    )
            self.claim["diagnoses"] = principal + others
        elif sid == "NM1" and loop == "2310B":
            self.claim["rendering_provider"] = _provider(s)
        elif sid == "PRV" and loop == "2310B" and "rendering_provider" in self.claim:
            self.claim["rendering_provider"]["taxonomy"] = s.value("PRV03")
        elif sid == "LX" and loop == "2400":
            self.line = {}
            self.claim["lines"].append(self.line)
        elif sid == "SV1" and loop == "2400" and self.line is not None:
            if s.value("SV101-1") != "HC":
                raise X12ReadError(
                    f"{self.name}: segment {s.position} (SV101-1): qualifier {s.value('SV101-1')!r} "
                    "is not HC.",
                    "send CPT/HCPCS service lines (SV101-1 HC).",
                )
            self.line["code"] = s.value("SV101-2")
            self.line["modifiers"] = [m for m in (s.value(f"SV101-{k}") for k in range(3, 7)) if m]
            self.line["charge"] = s.value("SV102")
            self.line["units"] = s.value("SV104") or "1"
            if s.value("SV105"):
                self.line["place_of_service"] = s.value("SV105")
            pointers = [s.value(f"SV107-{k}") for k in range(1, 5)]
            bad = [p for p in pointers if p and not p.isdigit()]
            if bad:
                raise X12ReadError(
                    f"{self.name}: segment {s.position} (SV107): pointer {bad[0]!r} is not a number.",
                    "give diagnosis pointers 1–12.",
                )
            self.line["dx_pointers"] = [int(p) for p in pointers if p]
        elif sid == "DTP" and loop == "2400" and self.line is not None and s.value("DTP01") == "472":
            self.line["date_of_service"] = _d8(s.value("DTP03"))
        elif sid == "REF" and loop == "2400" and self.line is not None and s.value("REF01") == "6R":
            self.line["control_number"] = s.value("REF02")


__all__ = [
    "RELATIONSHIP_NAMES",
    "EnvelopeOptions",
    "X12ReadError",
    "X12WriteError",
    "atomic_write",
    "parse_837p",
    "read_837p",
    "to_837p",
    "validate_837p",
    "write_837p",
]
