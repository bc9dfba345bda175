"""Reading X12 5010 835 remittances (005010X221A1): what the payer paid, adjusted and why.

The file is validated with pyx12 against the 835 implementation guide and then read from the validated
segment tree (loops 1000A/1000B, 2000, 2100 claim payment, 2110 service payment, PLB). Every envelope,
structure, count or element error rejects the file with an :class:`Remit835Error` naming the segment
number (ISA counts as segment 1) and the fix; nothing half-read is returned.

Mapping: BPR → payment (handling, amount, credit/debit, method, date), TRN → check/EFT trace number,
DTM*405 → production date, N1*PR/N1*PE (+ REF*2U / REF*TJ) → payer and payee, LX → header number,
CLP → claim payment (CLP01 is the submitted CLM01), CAS → adjustments (5010 group codes CO, PR, OA, PI;
CARC, amount, quantity; up to six per segment), NM1*QC → the patient (kept out of every repr, dictionary,
report and error message), MOA/MIA → claim remarks, DTM*232/233/050 → claim dates, SVC → service payment
(SVC06/SVC07 the submitted procedure and units when the payer changed them), DTM*472 → service date,
REF*6R → line item control number, AMT*B6 → allowed amount, LQ*HE → RARC remarks, PLB → provider-level
adjustments.

Balancing (TR3 §1.10.2.1) is checked and reported as warnings, not errors: a service's charge minus its
adjustments should equal its payment, a claim's charge minus claim and service adjustments its payment,
and the claim payments minus the provider-level adjustments the BPR total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from chartcode.edits.io import X12Segment
from chartcode.errors import InputError

X12_VERSION_835 = "005010X221A1"
ISA_LENGTH = 106
ZERO = Decimal(0)

BALANCE_CITATION = "ASC X12 835 (005010X221A1) TR3, §1.10.2.1 Balancing"
X12_FIX_835 = (
    "correct the segment(s) named following the 5010 835 implementation guide (005010X221A1) or ask the "
    "payer (or clearinghouse) for a corrected file."
)

#: Claim status codes (CLP02), in short words.
CLAIM_STATUS: dict[str, str] = {
    "1": "processed as primary",
    "2": "processed as secondary",
    "3": "processed as tertiary",
    "4": "denied",
    "19": "processed as primary, forwarded to another payer",
    "20": "processed as secondary, forwarded to another payer",
    "21": "processed as tertiary, forwarded to another payer",
    "22": "reversal of a previous payment",
    "23": "not our claim, forwarded to another payer",
    "25": "predetermination only, no payment",
}

PAYMENT_METHOD: dict[str, str] = {
    "ACH": "automated clearing house (EFT)",
    "BOP": "financial institution option",
    "CHK": "check",
    "FWT": "federal reserve wire transfer",
    "NON": "non-payment data",
}


class RemitFileError(InputError):
    """A remittance file that cannot be read at all (missing, empty, not text, not X12)."""

    code = "CC520"


class Remit835Error(InputError):
    """An X12 file that is not a valid 5010 835 (envelope, structure, counts or element errors)."""

    code = "CC521"


# --- the model ----------------------------------------------------------------------------------


def _money(value: Decimal) -> float:
    return float(value)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One CAS triplet: group code (5010: CO, PR, OA, PI), CARC, amount and optional quantity."""

    group: str  # 5010 group codes: CO contractual, PR patient, OA other, PI payer initiated
    reason: str
    amount: Decimal
    quantity: Decimal | None = None
    position: int = 0  # segment number of the CAS

    @property
    def key(self) -> str:
        """``CO-45``: the group and reason code as payers and coders write them."""
        return f"{self.group}-{self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "reason": self.reason,
            "amount": _money(self.amount),
            "quantity": None if self.quantity is None else float(self.quantity),
            "segment": self.position,
        }


@dataclass(frozen=True, slots=True)
class Procedure:
    """A composite procedure identifier: qualifier (HC = CPT/HCPCS), code and up to four modifiers."""

    qualifier: str
    code: str
    modifiers: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "-".join((self.code, *self.modifiers))


@dataclass(frozen=True, slots=True)
class ServicePayment:
    """A 2110 service payment (SVC and what follows it)."""

    position: int  # segment number of the SVC
    procedure: Procedure
    charge: Decimal
    paid: Decimal
    revenue_code: str | None = None
    units: Decimal = Decimal(1)  # SVC05 units paid (1 when not sent)
    original: Procedure | None = None  # SVC06: the procedure as submitted, when the payer changed it
    original_units: Decimal | None = None  # SVC07: the units as submitted, when different
    service_date: date | None = None  # DTM*472 (or DTM*150)
    service_end: date | None = None  # DTM*151
    adjustments: tuple[Adjustment, ...] = ()
    control_number: str | None = None  # REF*6R: the submitted line item control number
    allowed: Decimal | None = None  # AMT*B6
    remarks: tuple[str, ...] = ()  # LQ*HE remittance advice remark codes

    @property
    def submitted(self) -> Procedure:
        """The procedure as the provider billed it (SVC06 when present, else SVC01)."""
        return self.original or self.procedure

    @property
    def submitted_units(self) -> Decimal:
        return self.original_units if self.original_units is not None else self.units

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.position,
            "qualifier": self.procedure.qualifier,
            "code": self.procedure.code,
            "modifiers": list(self.procedure.modifiers),
            "charge": _money(self.charge),
            "paid": _money(self.paid),
            "allowed": None if self.allowed is None else _money(self.allowed),
            "revenue_code": self.revenue_code,
            "units": float(self.units),
            "original_code": self.original.code if self.original else None,
            "original_modifiers": list(self.original.modifiers) if self.original else None,
            "original_units": None if self.original_units is None else float(self.original_units),
            "service_date": self.service_date.isoformat() if self.service_date else None,
            "service_end": self.service_end.isoformat() if self.service_end else None,
            "control_number": self.control_number,
            "adjustments": [a.to_dict() for a in self.adjustments],
            "remarks": list(self.remarks),
        }


@dataclass(frozen=True, slots=True)
class PatientName:
    """NM1*QC: who the claim was for. Protected health information: never printed, logged or serialised."""

    last_name: str = field(repr=False)
    first_name: str = field(repr=False)
    member_id: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ClaimPayment:
    """A 2100 claim payment (CLP and what follows it)."""

    position: int  # segment number of the CLP
    claim_id: str  # CLP01: the provider's claim id as submitted in CLM01
    status: str  # CLP02
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal = ZERO
    filing_indicator: str | None = None  # CLP06
    payer_control_number: str | None = None  # CLP07
    facility_code: str | None = None  # CLP08: place of service for professional claims
    frequency: str | None = None  # CLP09
    adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS
    services: tuple[ServicePayment, ...] = ()
    statement_from: date | None = None  # DTM*232
    statement_to: date | None = None  # DTM*233
    received: date | None = None  # DTM*050
    remarks: tuple[str, ...] = ()  # MOA/MIA remark codes
    header_number: str | None = None  # LX01 of the 2000 loop the claim is in
    patient: PatientName | None = field(default=None, repr=False, compare=False)

    @property
    def is_reversal(self) -> bool:
        return self.status == "22"

    @property
    def status_label(self) -> str:
        return CLAIM_STATUS.get(self.status, f"status {self.status}")

    def all_adjustments(self) -> list[Adjustment]:
        """Claim-level adjustments, then every service's."""
        return [*self.adjustments, *(a for s in self.services for a in s.adjustments)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.position,
            "claim_id": self.claim_id,
            "status": self.status,
            "status_label": self.status_label,
            "charge": _money(self.charge),
            "paid": _money(self.paid),
            "patient_responsibility": _money(self.patient_responsibility),
            "filing_indicator": self.filing_indicator,
            "payer_control_number": self.payer_control_number,
            "facility_code": self.facility_code,
            "frequency": self.frequency,
            "statement_from": self.statement_from.isoformat() if self.statement_from else None,
            "statement_to": self.statement_to.isoformat() if self.statement_to else None,
            "received": self.received.isoformat() if self.received else None,
            "adjustments": [a.to_dict() for a in self.adjustments],
            "remarks": list(self.remarks),
            "header_number": self.header_number,
            "services": [s.to_dict() for s in self.services],
        }


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    """One PLB reason/amount pair. A positive amount reduces the payment, a negative one adds to it."""

    position: int
    provider_id: str
    fiscal_period_end: date | None
    reason: str  # e.g. WO overpayment recovery, L6 interest, FB forward balance, 72 authorized return
    reference: str | None
    amount: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.position,
            "provider_id": self.provider_id,
            "fiscal_period_end": self.fiscal_period_end.isoformat() if self.fiscal_period_end else None,
            "reason": self.reason,
            "reference": self.reference,
            "amount": _money(self.amount),
        }


@dataclass(frozen=True, slots=True)
class Party:
    """The payer (1000A) or payee (1000B): name, N103 qualifier and N104 id, and REF*2U / REF*TJ."""

    name: str = ""
    id_qualifier: str | None = None
    id: str | None = None
    additional_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id_qualifier": self.id_qualifier,
            "id": self.id,
            "additional_id": self.additional_id,
        }


@dataclass(frozen=True, slots=True)
class RemitFinding:
    """A problem in the remittance that does not stop it being read (balancing)."""

    rule: str
    severity: Literal["warning", "info"]
    message: str
    fix: str
    citation: str
    position: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "citation": self.citation,
            "segment": self.position,
        }


@dataclass(frozen=True, slots=True)
class Remittance:
    """One 835 transaction (ST … SE): one payment or notice from one payer to one payee."""

    source: str
    position: int  # segment number of the ST
    control_number: str  # ST02
    handling: str  # BPR01: C payment with remittance, I remittance only, H notification only, ...
    payment_amount: Decimal  # BPR02 (negative when BPR03 is D, a debit)
    payment_method: str  # BPR04
    payment_date: date | None  # BPR16
    trace_number: str | None  # TRN02: check or EFT trace number
    originator_id: str | None  # TRN03
    production_date: date | None  # DTM*405
    payer: Party
    payee: Party
    claims: tuple[ClaimPayment, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()
    findings: tuple[RemitFinding, ...] = ()

    @property
    def payment_method_label(self) -> str:
        return PAYMENT_METHOD.get(self.payment_method, self.payment_method)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "segment": self.position,
            "control_number": self.control_number,
            "handling": self.handling,
            "payment_amount": _money(self.payment_amount),
            "payment_method": self.payment_method,
            "payment_date": self.payment_date.isoformat() if self.payment_date else None,
            "trace_number": self.trace_number,
            "originator_id": self.originator_id,
            "production_date": self.production_date.isoformat() if self.production_date else None,
            "payer": self.payer.to_dict(),
            "payee": self.payee.to_dict(),
            "claims": [c.to_dict() for c in self.claims],
            "provider_adjustments": [p.to_dict() for p in self.provider_adjustments],
            "findings": [f.to_dict() for f in self.findings],
        }


# --- reading ------------------------------------------------------------------------------------


def read_835(path: Path | str) -> list[Remittance]:
    """Every 835 transaction in the file at ``path``, in file order.

    Raises :class:`RemitFileError` when the file cannot be read and :class:`Remit835Error` when it is
    not a valid 5010 835 (with the segment number and what is wrong).
    """
    name = str(path)
    file = Path(path)
    if not file.is_file():
        raise RemitFileError(f"file {name} does not exist.", "give the path of an X12 835 remittance file.")
    raw = file.read_bytes()
    if not raw.strip():
        raise RemitFileError(f"{name} is empty.", "give an X12 835 file (ISA … IEA) from the payer.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RemitFileError(
            f"{name}: byte {exc.start + 1} is not UTF-8 text.",
            "X12 files are ASCII text; ask for the file again.",
        ) from None
    return parse_835(text, name)


def parse_835(text: str, name: str = "<input>") -> list[Remittance]:
    """The 835 transactions in the text of an X12 interchange (see :func:`read_835`)."""
    text = text.lstrip()
    _check_isa(text, name)
    segments = _validated_segments(text, name)
    _check_kind(segments, name)
    return _Reader(name).read(segments)


def _check_isa(text: str, name: str) -> None:
    if not text.startswith("ISA"):
        raise RemitFileError(
            f"{name}: segment 1 must be the ISA interchange header; the file starts with {text[:20]!r}.",
            "give the X12 835 file exactly as the payer sent it (it begins with ISA).",
        )
    isa = text[:ISA_LENGTH]
    separator = isa[3] if len(isa) > 3 else "*"
    terminator = isa[-1] if len(isa) == ISA_LENGTH else ""
    if len(isa) < ISA_LENGTH or isa.count(separator) != 16 or terminator.isalnum() or terminator == " ":
        raise Remit835Error(
            f"{name}: segment 1 (ISA) is not a {ISA_LENGTH}-character interchange header with 16 fixed-width "
            "elements ending in the segment terminator.",
            "pad every ISA element to its fixed width (ISA06/ISA08 15 characters, ISA13 9 digits) and end it "
            "with the segment terminator (usually ~).",
        )
    if isa[84:89] != "00501":
        raise Remit835Error(
            f"{name}: segment 1 (ISA): ISA12 version {isa[84:89]!r} is not 00501; chartcode reads 5010 "
            "835 files.",
            "ask the payer for the 5010 835 (ISA12 00501, GS08 005010X221A1).",
        )


# pyx12 4.0.0 counts each PLB segment as a new FOOTER loop although the TR3 allows PLB to repeat.
_PYX12_FALSE_ALARMS = ("Loop FOOTER exceeded max count",)


def _validated_segments(text: str, name: str) -> list[X12Segment]:
    from chartcode.edits.io import run_pyx12

    guide_fix = f"a remittance must be a 5010 835 (GS01 HP, GS08 {X12_VERSION_835})."
    segments, reported, ok = run_pyx12(text, name, Remit835Error, guide_fix, X12_FIX_835)
    problems = [_plain(p) for p in reported if not any(f in p for f in _PYX12_FALSE_ALARMS)]
    if problems and segments and segments[-1].id != "IEA":
        last = segments[-1]
        problems.insert(
            0,
            f"the file ends at segment {last.position} ({last.id}) without its trailers (SE, GE, IEA): it is "
            "truncated or a trailer is missing",
        )
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise Remit835Error(
            f"{name} fails 835 validation ({len(problems)} error(s)): {shown}{more}.",
            _fix_for(" ".join(problems)),
        )
    if not ok and not reported:
        raise Remit835Error(f"{name} fails X12 validation (pyx12 gave no detail).", X12_FIX_835)
    return segments


def _plain(problem: str) -> str:
    """pyx12 wording made plainer where it is cryptic (identifying values are already withheld by
    :func:`chartcode.edits.io.withhold_identifying`)."""
    import re

    return re.sub(
        r"Unterminated segment (\S+)",
        r"transaction set \1 is not closed by its SE trailer",
        problem,
    )


def _fix_for(message: str) -> str:
    lowered = message.lower()
    if "truncated" in lowered:
        return "ask the payer or clearinghouse to send the complete file again."
    if "se count" in lowered or ("count" in lowered and "(st/se)" in lowered):
        return (
            "SE01 must be the number of segments from ST to SE inclusive; ask the payer for a corrected file."
        )
    if "invalid character" in lowered or "type r" in lowered or "type n" in lowered:
        return "amounts and quantities must be numbers (e.g. 125.50); ask the payer for a corrected file."
    if "transaction set trailer" in lowered or "se trailer" in lowered:
        return "every ST needs its SE trailer; ask the payer for a corrected file."
    return X12_FIX_835


def _check_kind(segments: list[X12Segment], name: str) -> None:
    for s in segments:
        if s.id == "GS" and s.value("GS08") != X12_VERSION_835:
            found = s.value("GS08")
            raise Remit835Error(
                f"{name}: segment {s.position} (GS): GS08 {found!r} is not the 5010 835 ({X12_VERSION_835}).",
                f"give a 5010 835 remittance (GS01 HP, GS08 {X12_VERSION_835}); claims go to "
                "`chartcode check`.",
            )
        if s.id == "ST" and s.value("ST01") != "835":
            raise Remit835Error(
                f"{name}: segment {s.position} (ST): transaction set {s.value('ST01')!r} is not an 835.",
                "give a 5010 835 remittance file (ST01 835).",
            )


def _d8(value: str) -> date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


class _Reader:
    """Assembles remittances from validated segments."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.out: list[Remittance] = []

    def amount(self, s: X12Segment, ref: str, *, required: bool = True) -> Decimal:
        raw = s.value(ref)
        if not raw and not required:
            return ZERO
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise Remit835Error(
                f"{self.name}: segment {s.position} ({s.id}): {ref} {raw!r} is not an amount.",
                "amounts must be numbers (e.g. 125.50); ask the payer for a corrected file.",
            ) from None
        if not value.is_finite():
            raise Remit835Error(
                f"{self.name}: segment {s.position} ({s.id}): {ref} is not a number.", X12_FIX_835
            )
        return value

    def date(self, s: X12Segment, ref: str) -> date | None:
        raw = s.value(ref)
        if not raw:
            return None
        day = _d8(raw)
        if day is None:
            raise Remit835Error(
                f"{self.name}: segment {s.position} ({s.id}): {ref} {raw!r} is not a date (CCYYMMDD).",
                X12_FIX_835,
            )
        return day

    def read(self, segments: list[X12Segment]) -> list[Remittance]:
        tx: dict[str, Any] | None = None
        claim: dict[str, Any] | None = None
        service: dict[str, Any] | None = None
        header: str | None = None

        def end_service() -> None:
            nonlocal service
            if service is not None and claim is not None:
                claim["services"].append(ServicePayment(**service))
            service = None

        def end_claim() -> None:
            nonlocal claim
            end_service()
            if claim is not None and tx is not None:
                claim["services"] = tuple(claim["services"])
                tx["claims"].append(ClaimPayment(**claim))
            claim = None

        for s in segments:
            sid, loop = s.id, s.loop
            if sid == "ST":
                tx = {
                    "source": self.name,
                    "position": s.position,
                    "control_number": s.value("ST02"),
                    "payer": Party(),
                    "payee": Party(),
                    "claims": [],
                    "provider_adjustments": [],
                    "trace_number": None,
                    "originator_id": None,
                    "production_date": None,
                }
                continue
            if tx is None:
                continue
            if sid == "SE":
                end_claim()
                self.out.append(self._finish(tx))
                tx = None
            elif sid == "BPR":
                amount = self.amount(s, "BPR02")
                tx.update(
                    handling=s.value("BPR01"),
                    payment_amount=-amount if s.value("BPR03") == "D" else amount,
                    payment_method=s.value("BPR04"),
                    payment_date=self.date(s, "BPR16"),
                )
            elif sid == "TRN":
                tx.update(trace_number=s.value("TRN02") or None, originator_id=s.value("TRN03") or None)
            elif sid == "DTM" and loop == "HEADER" and s.value("DTM01") == "405":
                tx["production_date"] = self.date(s, "DTM02")
            elif sid == "N1" and loop in ("1000A", "1000B"):
                key = "payer" if loop == "1000A" else "payee"
                tx[key] = Party(s.value("N102"), s.value("N103") or None, s.value("N104") or None)
            elif sid == "REF" and loop in ("1000A", "1000B"):
                key = "payer" if loop == "1000A" else "payee"
                party: Party = tx[key]
                if party.additional_id is None:
                    tx[key] = Party(party.name, party.id_qualifier, party.id, s.value("REF02") or None)
            elif sid == "LX":
                end_claim()
                header = s.value("LX01") or None
            elif sid == "CLP":
                end_claim()
                claim = self._claim(s)
                claim["header_number"] = header
            elif sid == "PLB":
                end_claim()
                tx["provider_adjustments"].extend(self._plb(s))
            elif claim is None:
                continue
            elif loop == "2100":
                self._claim_detail(s, claim)
            elif sid == "SVC":
                end_service()
                service = self._service(s)
            elif loop == "2110" and service is not None:
                self._service_detail(s, service)
        return self.out

    def _claim(self, s: X12Segment) -> dict[str, Any]:
        return {
            "position": s.position,
            "claim_id": s.value("CLP01"),
            "status": s.value("CLP02"),
            "charge": self.amount(s, "CLP03"),
            "paid": self.amount(s, "CLP04"),
            "patient_responsibility": self.amount(s, "CLP05", required=False),
            "filing_indicator": s.value("CLP06") or None,
            "payer_control_number": s.value("CLP07") or None,
            "facility_code": s.value("CLP08") or None,
            "frequency": s.value("CLP09") or None,
            "adjustments": (),
            "services": [],
            "remarks": (),
        }

    def _claim_detail(self, s: X12Segment, claim: dict[str, Any]) -> None:
        sid = s.id
        if sid == "CAS":
            claim["adjustments"] = (*claim["adjustments"], *self._cas(s))
        elif sid == "NM1" and s.value("NM101") == "QC":
            claim["patient"] = PatientName(s.value("NM103"), s.value("NM104"), s.value("NM109"))
        elif sid == "DTM":
            kind = {"232": "statement_from", "233": "statement_to", "050": "received"}.get(s.value("DTM01"))
            if kind:
                claim[kind] = self.date(s, "DTM02")
        elif sid == "MOA":
            codes = [s.value(f"MOA{i:02d}") for i in range(3, 8)]
            claim["remarks"] = (*claim["remarks"], *(c for c in codes if c))
        elif sid == "MIA":
            codes = [s.value(f"MIA{i:02d}") for i in (5, 20, 21, 22, 23)]
            claim["remarks"] = (*claim["remarks"], *(c for c in codes if c))

    def _procedure(self, s: X12Segment, ref: str) -> Procedure | None:
        code = s.value(f"{ref}-2")
        if not code:
            return None
        mods = tuple(m.upper() for m in (s.value(f"{ref}-{k}") for k in range(3, 7)) if m)
        return Procedure(s.value(f"{ref}-1"), code.upper(), mods)

    def _service(self, s: X12Segment) -> dict[str, Any]:
        procedure = self._procedure(s, "SVC01")
        assert procedure is not None  # SVC01-2 is required; pyx12 validated it
        units = self.amount(s, "SVC05") if s.value("SVC05") else Decimal(1)
        return {
            "position": s.position,
            "procedure": procedure,
            "charge": self.amount(s, "SVC02"),
            "paid": self.amount(s, "SVC03"),
            "revenue_code": s.value("SVC04") or None,
            "units": units,
            "original": self._procedure(s, "SVC06"),
            "original_units": self.amount(s, "SVC07") if s.value("SVC07") else None,
            "adjustments": (),
            "remarks": (),
        }

    def _service_detail(self, s: X12Segment, service: dict[str, Any]) -> None:
        sid = s.id
        if sid == "DTM":
            qualifier = s.value("DTM01")
            if qualifier in ("472", "150"):
                service["service_date"] = self.date(s, "DTM02")
            elif qualifier == "151":
                service["service_end"] = self.date(s, "DTM02")
        elif sid == "CAS":
            service["adjustments"] = (*service["adjustments"], *self._cas(s))
        elif sid == "REF" and s.value("REF01") == "6R":
            service["control_number"] = s.value("REF02") or None
        elif sid == "AMT" and s.value("AMT01") == "B6":
            service["allowed"] = self.amount(s, "AMT02")
        elif sid == "LQ" and s.value("LQ01") == "HE":
            service["remarks"] = (*service["remarks"], s.value("LQ02"))

    def _cas(self, s: X12Segment) -> list[Adjustment]:
        group = s.value("CAS01")
        out = []
        for k in range(6):
            reason = s.value(f"CAS{2 + 3 * k:02d}")
            if not reason:
                continue
            quantity = s.value(f"CAS{4 + 3 * k:02d}")
            out.append(
                Adjustment(
                    group,
                    reason,
                    self.amount(s, f"CAS{3 + 3 * k:02d}"),
                    self.amount(s, f"CAS{4 + 3 * k:02d}") if quantity else None,
                    s.position,
                )
            )
        return out

    def _plb(self, s: X12Segment) -> list[ProviderAdjustment]:
        out = []
        for k in range(6):
            ref = f"PLB{3 + 2 * k:02d}"
            reason = s.value(f"{ref}-1")
            if not reason:
                continue
            out.append(
                ProviderAdjustment(
                    s.position,
                    s.value("PLB01"),
                    self.date(s, "PLB02"),
                    reason,
                    s.value(f"{ref}-2") or None,
                    self.amount(s, f"PLB{4 + 2 * k:02d}"),
                )
            )
        return out

    def _finish(self, tx: dict[str, Any]) -> Remittance:
        tx.setdefault("handling", "")
        tx.setdefault("payment_amount", ZERO)
        tx.setdefault("payment_method", "")
        tx.setdefault("payment_date", None)
        claims = tuple(tx.pop("claims"))
        plb = tuple(tx.pop("provider_adjustments"))
        findings = tuple(balance_findings(claims, plb, tx["payment_amount"], tx["position"]))
        return Remittance(claims=claims, provider_adjustments=plb, findings=findings, **tx)


def _total(adjustments: Iterable[Adjustment]) -> Decimal:
    return sum((a.amount for a in adjustments), ZERO)


def balance_findings(
    claims: tuple[ClaimPayment, ...], plb: tuple[ProviderAdjustment, ...], payment: Decimal, position: int
) -> list[RemitFinding]:
    """Service, claim and transaction balancing (TR3 §1.10.2.1), as warnings."""
    found: list[RemitFinding] = []
    fix = "ask the payer to correct the remittance; post the payment from the amounts that balance."
    for c in claims:
        for s in c.services:
            expected = s.charge - _total(s.adjustments)
            if expected != s.paid:
                found.append(
                    RemitFinding(
                        "REMIT-BAL-LINE",
                        "warning",
                        f"claim {c.claim_id}, service {s.procedure} (segment {s.position}): charge "
                        f"{s.charge} minus adjustments {_total(s.adjustments)} is {expected}, but the "
                        f"payment is {s.paid}.",
                        fix,
                        BALANCE_CITATION + " (service line balancing)",
                        s.position,
                    )
                )
        adjusted = _total(c.all_adjustments())
        if c.charge - adjusted != c.paid:
            found.append(
                RemitFinding(
                    "REMIT-BAL-CLAIM",
                    "warning",
                    f"claim {c.claim_id} (segment {c.position}): charge {c.charge} minus claim and service "
                    f"adjustments {adjusted} is {c.charge - adjusted}, but the claim payment is {c.paid}.",
                    fix,
                    BALANCE_CITATION + " (claim balancing)",
                    c.position,
                )
            )
    net = sum((c.paid for c in claims), ZERO) - sum((p.amount for p in plb), ZERO)
    if net != payment:
        found.append(
            RemitFinding(
                "REMIT-BAL-TOTAL",
                "warning",
                f"the claim payments less provider adjustments come to {net}, but BPR02 pays {payment}.",
                fix,
                BALANCE_CITATION + " (transaction balancing)",
                position,
            )
        )
    return found


__all__ = [
    "Adjustment",
    "ClaimPayment",
    "Party",
    "PatientName",
    "Procedure",
    "ProviderAdjustment",
    "Remit835Error",
    "RemitFileError",
    "RemitFinding",
    "Remittance",
    "ServicePayment",
    "parse_835",
    "read_835",
]
