"""Charges and expected Medicare payment from the Physician Fee Schedule in the knowledge base.

For each line the fee schedule amount of one unit is
``(work RVU × work GPCI + PE RVU × PE GPCI + MP RVU × MP GPCI) × conversion factor``, rounded to the
cent, with the facility PE RVU when the place of service is a facility setting (CMS's facility POS
list) and the non-facility PE RVU otherwise. The RVU release is the one in force on the line's date of
service; the GPCIs are those of the claim's payment locality (``--locality MAC-LOCALITY``, else the
billing provider's state when the state is one locality).

Then the payment policy indicators of the RVU file adjust it, each adjustment named by a rule id with
its citation:

* ``PFS-STATUS``: status codes other than A, R and T are not paid under the PFS (C: carrier priced).
* ``PFS-PCTC``: modifier 26 or TC uses the component's own RVU row when the PC/TC indicator allows it.
* ``PFS-NA``: the fee schedule marks the service NA in the setting billed.
* ``PFS-BILATERAL``: modifier 50 with bilateral indicator 1 pays 150 %, indicator 3 pays 200 %.
* ``PFS-MULTIPLE``: multiple procedure indicator 2 or 3: the highest-paid procedure of the day at
  100 %, every other procedure (and every further unit) at 50 %, ranked by fee.
* ``PFS-THERAPY-MPPR``: multiple procedure indicator 5 (always-therapy services): the unit with the
  highest practice expense payment of the day in full, the PE of every further unit at 50 %.
* ``PFS-MPPR-NOT-APPLIED``: the imaging, cardiology and ophthalmology payment reductions (indicators
  4, 6, 7) are named but not computed.

The amount is the Medicare allowed amount (before deductible, the 20 % coinsurance and
sequestration). A practice fee schedule CSV (``code,modifier,charge``) sets the billed charges.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

from chartcode.claims.model import EncounterClaim
from chartcode.codesets import procedures
from chartcode.codesets.kb import KnowledgeBase
from chartcode.errors import ChartcodeError, InputError

CENT = Decimal("0.01")

# Facility settings for PFS site-of-service payment (CMS PFS: these POS codes take the facility PE RVU).
FACILITY_POS: frozenset[str] = frozenset(
    {"02", "19", "21", "22", "23", "24", "26", "31", "34", "41", "42", "51", "52", "53", "56", "61"}
)
PAYABLE_STATUS: frozenset[str] = frozenset({"A", "R", "T"})
STATUS_MEANING: dict[str, str] = {
    "B": "bundled: payment is included in another service",
    "C": "carrier priced: the Medicare contractor sets the amount",
    "D": "deleted code",
    "E": "excluded from the fee schedule by regulation (paid under another fee schedule if covered)",
    "F": "deleted/discontinued code",
    "G": "not valid for Medicare; another code is used",
    "H": "deleted modifier for this code",
    "I": "not valid for Medicare purposes",
    "J": "anesthesia service (paid with base and time units)",
    "M": "measurement code, used for reporting only",
    "N": "non-covered service",
    "P": "bundled or excluded",
    "Q": "therapy functional information code",
    "X": "statutory exclusion",
}

CITE_STATUS = "CMS PFS Relative Value File (PPRRVU), STATUS CODE indicator"
CITE_SETTING = "Medicare Claims Processing Manual, ch. 12 §20.4.2 (site of service payment differential)"
CITE_FORMULA = "Medicare Claims Processing Manual, ch. 12 §20 (Medicare physician fee schedule payment)"
CITE_PCTC = "CMS PFS Relative Value File (PPRRVU), PC/TC indicator"
CITE_NA = "CMS PFS Relative Value File (PPRRVU), facility and non-facility NA indicators"
CITE_BILATERAL = (
    "Medicare Claims Processing Manual, ch. 12 §40.7 (bilateral surgery); PPRRVU BILAT SURG indicator"
)
CITE_MULTIPLE = (
    "Medicare Claims Processing Manual, ch. 12 §40.6 (multiple surgery); PPRRVU MULT PROC indicator"
)
CITE_THERAPY = (
    "Medicare Claims Processing Manual, ch. 5 §10.7 (multiple procedure payment reduction for therapy); "
    "PPRRVU MULT PROC indicator 5"
)
CITE_FEES = "practice fee schedule (CSV given with --fees)"


class FeeScheduleError(InputError):
    """A practice fee schedule CSV that cannot be read."""

    code = "CC510"


class LocalityError(InputError):
    """No Medicare payment locality could be chosen for the claim."""

    code = "CC511"


class PricingUnavailableError(ChartcodeError):
    """The knowledge base has no PFS release for the date of service."""

    code = "CC512"


@dataclass(frozen=True, slots=True)
class Adjustment:
    rule: str
    severity: Literal["info", "warning"]
    message: str
    citation: str
    factor: float | None = None  # multiplier applied to the amount, when the adjustment changes it


@dataclass(frozen=True, slots=True)
class LinePrice:
    line: int  # 1-based
    code: str
    modifiers: tuple[str, ...]
    units: float
    release: str | None
    status: str | None
    setting: Literal["facility", "non_facility"]
    rvu: dict[str, float]  # work, pe, mp used
    fee_schedule_amount: float | None  # one unit, before payment policy adjustments
    allowed: float | None  # expected Medicare allowed amount of the line (None: not priced by the PFS)
    billed: float | None
    adjustments: tuple[Adjustment, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimPrice:
    claim_id: str
    locality: dict[str, Any]
    conversion_factor: float | None
    lines: tuple[LinePrice, ...]
    total_billed: float
    total_allowed: float
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- practice fee schedule --------------------------------------------------------------------------


FeeSchedule = Mapping[tuple[str, str], Decimal]


def read_fee_schedule(path: Path | str) -> dict[tuple[str, str], Decimal]:
    """``code,modifier,charge`` rows (a header row is optional); key ``(CODE, MODIFIER or "")``."""
    source = Path(path)
    if not source.is_file():
        raise FeeScheduleError(
            f"fee schedule {path} does not exist.", "give the path of a code,modifier,charge CSV."
        )
    return parse_fee_schedule(source.read_text(encoding="utf-8-sig"), str(path))


def parse_fee_schedule(text: str, name: str = "<fees>") -> dict[tuple[str, str], Decimal]:
    fees: dict[tuple[str, str], Decimal] = {}
    fix = "write one row per code: code,modifier,charge (e.g. 99214,,185.00 or 71046,26,40.00)."
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in row]
        if number == 1 and cells[0].lower() == "code":
            continue
        if len(cells) != 3:
            raise FeeScheduleError(f"{name}, line {number}: {len(cells)} column(s); expected 3.", fix)
        code, modifier, charge = cells[0].upper(), cells[1].upper(), cells[2].lstrip("$")
        if not code.isalnum() or len(code) != 5:
            raise FeeScheduleError(f"{name}, line {number}: code {code!r} is not a CPT/HCPCS code.", fix)
        if modifier and (len(modifier) != 2 or not modifier.isalnum()):
            raise FeeScheduleError(f"{name}, line {number}: modifier {modifier!r} is not 2 characters.", fix)
        try:
            amount = Decimal(charge)
        except ArithmeticError:
            amount = Decimal(-1)
        if not amount.is_finite() or amount < 0:
            raise FeeScheduleError(f"{name}, line {number}: charge {charge!r} is not an amount.", fix)
        if (code, modifier) in fees:
            raise FeeScheduleError(
                f"{name}, line {number}: {code} {modifier or '(no modifier)'} is listed twice.", fix
            )
        fees[(code, modifier)] = amount.quantize(CENT)
    return fees


def fee_for(fees: FeeSchedule, code: str, modifiers: tuple[str, ...]) -> Decimal | None:
    """The practice charge of one unit: the first modifier with its own row, else the code's plain row."""
    for m in modifiers:
        if (code, m) in fees:
            return fees[(code, m)]
    return fees.get((code, ""))


def apply_fee_schedule(claim: EncounterClaim, fees: FeeSchedule) -> EncounterClaim:
    """The claim with every line the fee schedule lists charged at its fee × units."""
    lines = []
    for line in claim.lines:
        fee = fee_for(fees, line.code, line.modifiers)
        lines.append(
            line if fee is None else line.model_copy(update={"charge": (fee * line.units).quantize(CENT)})
        )
    return claim.model_copy(update={"lines": tuple(lines)})


# --- locality ---------------------------------------------------------------------------------------


def resolve_locality(
    kb: KnowledgeBase, claim: EncounterClaim, day: date, locality: str | None = None
) -> procedures.Gpci:
    """The GPCIs of ``locality`` (``MAC-LOCALITY``, e.g. ``10112-00``), else of the billing provider's
    state when that state is one payment locality."""
    release = kb.release_for("pfs-gpci", day, nearest=True)
    if release is None:
        raise PricingUnavailableError(
            "the knowledge base has no PFS GPCI file.",
            "install the code sets with the PFS files (GPCI<year>.csv).",
        )
    if locality:
        parts = locality.replace(":", "-").replace("/", "-").split("-")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise LocalityError(
                f"--locality {locality!r} is not MAC-LOCALITY.",
                "give the Medicare contractor and locality numbers, e.g. --locality 10112-00 "
                "(as in the GPCI file).",
            )
        found = procedures.gpci(kb.conn, release.id, parts[0], parts[1])
        if found is None:
            raise LocalityError(
                f"locality {locality} is not in {release.id}.",
                "give a contractor-locality pair listed in the installed GPCI file.",
            )
        return found
    assert claim.billing_provider.address is not None
    state = claim.billing_provider.address.state
    rows = kb.conn.execute(
        "SELECT mac, state, locality, locality_name, pw, pe, mp FROM pfs_gpci"
        " WHERE release = ? AND state = ?",
        (release.id, state),
    ).fetchall()
    if len(rows) == 1:
        return procedures.Gpci(*rows[0])
    listing = ", ".join(f"{r[0]}-{r[2]} {r[3]}" for r in rows) or "none"
    raise LocalityError(
        f"claim {claim.id}: the billing provider's state {state} has {len(rows)} payment localities "
        f"({listing}).",
        "choose one with --locality MAC-LOCALITY.",
    )


# --- pricing ----------------------------------------------------------------------------------------


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _d(value: float | None) -> Decimal:
    return Decimal(str(value or 0))


@dataclass
class _Work:
    index: int
    line_no: int
    code: str
    modifiers: tuple[str, ...]
    units: Decimal
    day: date
    release: str | None = None
    status: str | None = None
    setting: Literal["facility", "non_facility"] = "non_facility"
    rvu: dict[str, float] = field(default_factory=dict)
    unit_fee: Decimal | None = None
    factor: Decimal = Decimal(1)
    mult_proc: str | None = None
    bilat: str | None = None
    parts: tuple[Decimal, Decimal, Decimal] = (Decimal(0), Decimal(0), Decimal(0))  # work, PE, MP × GPCI
    cf: Decimal = Decimal(0)
    adjustments: list[Adjustment] = field(default_factory=list)
    slots: list[Decimal] = field(default_factory=list)  # payment of each unit after policy adjustments


def price_claim(
    claim: EncounterClaim,
    kb: KnowledgeBase,
    *,
    locality: str | None = None,
    fees: FeeSchedule | None = None,
) -> ClaimPrice:
    """Billed charges (the fee schedule's when given) and the expected Medicare allowed amount per line."""
    if fees:
        claim = apply_fee_schedule(claim, fees)
    assert claim.date_of_service is not None
    gp = resolve_locality(kb, claim, claim.date_of_service, locality)
    notes: list[str] = []
    work: list[_Work] = []
    cf: Decimal | None = None
    for i, line in enumerate(claim.lines):
        w = _Work(i, i + 1, line.code, line.modifiers, Decimal(line.units), claim.line_date(i))
        pos = (claim.line_pos(i) or "").zfill(2)
        w.setting = "facility" if pos in FACILITY_POS else "non_facility"
        line_cf = _base_fee(kb, w, gp, pos)
        cf = cf or line_cf
        work.append(w)
    _bilateral(work)
    _multiple_procedures(work)
    lines = []
    for w, line in zip(work, claim.lines, strict=True):
        allowed = None if w.unit_fee is None else float(_money(sum(w.slots, Decimal(0))))
        if fees and fee_for(fees, line.code, line.modifiers) is not None:
            w.adjustments.append(
                Adjustment(
                    "FEE-OVERRIDE",
                    "info",
                    f"billed charge {line.charge} from the practice fee schedule",
                    CITE_FEES,
                )
            )
        lines.append(
            LinePrice(
                line=w.line_no,
                code=w.code,
                modifiers=w.modifiers,
                units=float(w.units),
                release=w.release,
                status=w.status,
                setting=w.setting,
                rvu=w.rvu,
                fee_schedule_amount=None if w.unit_fee is None else float(w.unit_fee),
                allowed=allowed,
                billed=None if line.charge is None else float(line.charge),
                adjustments=tuple(w.adjustments),
            )
        )
    total_allowed = float(
        _money(sum((Decimal(str(p.allowed)) for p in lines if p.allowed is not None), Decimal(0)))
    )
    total_billed = float(sum((line.charge or Decimal(0) for line in claim.lines), Decimal(0)))
    if any(p.allowed is None for p in lines):
        notes.append("lines without an amount are not priced by the PFS (see their adjustments)")
    return ClaimPrice(
        claim_id=claim.id,
        locality={
            "mac": gp.mac,
            "locality": gp.locality,
            "name": gp.locality_name,
            "state": gp.state,
            "gpci": {"work": gp.pw, "pe": gp.pe, "mp": gp.mp},
        },
        conversion_factor=None if cf is None else float(cf),
        lines=tuple(lines),
        total_billed=total_billed,
        total_allowed=total_allowed,
        notes=tuple(notes),
    )


def _base_fee(kb: KnowledgeBase, w: _Work, gp: procedures.Gpci, pos: str) -> Decimal | None:
    release = kb.release_for("pfs-rvu", w.day)
    if release is None:
        w.adjustments.append(
            Adjustment(
                "PFS-NOT-RUN",
                "warning",
                f"no installed PFS RVU release covers {w.day}; not priced",
                CITE_FORMULA,
            )
        )
        return None
    w.release = release.id
    row = procedures.rvu(kb.conn, release.id, w.code)
    if row is None:
        w.adjustments.append(
            Adjustment(
                "PFS-NO-RVU",
                "warning",
                f"{w.code} is not in the fee schedule {release.id}; not priced by the PFS",
                CITE_STATUS,
            )
        )
        return None
    component = next((m for m in w.modifiers if m in ("26", "TC")), None)
    if component is not None:
        comp_row = procedures.rvu(kb.conn, release.id, w.code, component)
        if comp_row is not None:
            row = comp_row
            w.adjustments.append(
                Adjustment(
                    "PFS-PCTC",
                    "info",
                    f"modifier {component}: the {'professional' if component == '26' else 'technical'} "
                    f"component's own RVUs are used (PC/TC indicator {row.pctc})",
                    CITE_PCTC,
                )
            )
        else:
            w.adjustments.append(
                Adjustment(
                    "PFS-PCTC",
                    "warning",
                    f"modifier {component} does not apply to {w.code} (PC/TC indicator {row.pctc}: the "
                    "fee schedule has no component row); priced as the whole service",
                    CITE_PCTC,
                )
            )
    w.status = row.status
    w.mult_proc = row.mult_proc
    w.bilat = row.bilat_surg
    status = (row.status or "").upper()
    if status not in PAYABLE_STATUS:
        meaning = STATUS_MEANING.get(status, "not paid under the fee schedule")
        w.adjustments.append(
            Adjustment(
                "PFS-STATUS",
                "warning" if status != "C" else "info",
                f"status {status or '(none)'}: {meaning}; no PFS amount",
                CITE_STATUS,
            )
        )
        return None
    facility = w.setting == "facility"
    na = row.f_na if facility else row.nf_na
    pe = row.f_pe_rvu if facility else row.nf_pe_rvu
    if na and na.strip().upper() == "NA":
        if not facility:
            pe = row.f_pe_rvu
            w.adjustments.append(
                Adjustment(
                    "PFS-NA",
                    "warning",
                    f"the fee schedule marks {w.code} NA outside a facility; priced with the facility PE RVU",
                    CITE_NA,
                )
            )
        else:
            w.adjustments.append(
                Adjustment(
                    "PFS-NA",
                    "warning",
                    f"the fee schedule marks {w.code} NA in a facility (POS {pos}): the facility is paid for "
                    "the technical part; bill the professional component with modifier 26",
                    CITE_NA,
                )
            )
    w.rvu = {"work": row.work_rvu or 0.0, "pe": pe or 0.0, "mp": row.mp_rvu or 0.0}
    cf = _d(row.conv_factor)
    parts = (_d(row.work_rvu) * _d(gp.pw), _d(pe) * _d(gp.pe), _d(row.mp_rvu) * _d(gp.mp))
    w.parts, w.cf = parts, cf
    w.unit_fee = _money(sum(parts, Decimal(0)) * cf)
    w.adjustments.append(
        Adjustment(
            "PFS-SETTING",
            "info",
            f"{'facility' if facility else 'non-facility'} rate for POS {pos or '(none)'}: "
            f"({w.rvu['work']} × {gp.pw} + {w.rvu['pe']} × {gp.pe} + {w.rvu['mp']} × {gp.mp}) × {cf}"
            f" = {w.unit_fee}",
            CITE_SETTING,
        )
    )
    return cf


def _bilateral(work: list[_Work]) -> None:
    """Modifier 50 by the BILAT SURG indicator: 1 → 150 %, 3 → 200 % (100 % each side), else 100 %."""
    meaning = {
        "0": "the bilateral adjustment does not apply to this code; modifier 50 is not paid extra",
        "2": "the code is already bilateral (its RVUs cover both sides); paid at 100 %",
        "9": "the bilateral concept does not apply to this code",
    }
    for w in work:
        if w.unit_fee is None or "50" not in w.modifiers:
            continue
        ind = (w.bilat or "").strip()
        if ind == "1":
            w.factor = Decimal("1.5")
            w.adjustments.append(
                Adjustment(
                    "PFS-BILATERAL",
                    "info",
                    "modifier 50, bilateral indicator 1: paid at 150 % of the fee",
                    CITE_BILATERAL,
                    1.5,
                )
            )
        elif ind == "3":
            w.factor = Decimal(2)
            w.adjustments.append(
                Adjustment(
                    "PFS-BILATERAL",
                    "info",
                    "modifier 50, bilateral indicator 3: each side paid at 100 % (200 % of the fee)",
                    CITE_BILATERAL,
                    2.0,
                )
            )
        else:
            w.adjustments.append(
                Adjustment(
                    "PFS-BILATERAL",
                    "warning",
                    f"modifier 50, bilateral indicator {ind or '(none)'}: "
                    f"{meaning.get(ind, 'no bilateral payment rule')}",
                    CITE_BILATERAL,
                    1.0,
                )
            )


def _multiple_procedures(work: list[_Work]) -> None:
    by_day: dict[date, list[tuple[Decimal, _Work, int]]] = {}
    therapy: dict[date, list[tuple[Decimal, _Work, int]]] = {}
    for w in work:
        if w.unit_fee is None:
            continue
        per_unit = _money(w.unit_fee * w.factor)
        if w.mult_proc in ("2", "3"):
            units = max(1, int(w.units.to_integral_value()))
            for k in range(units):
                by_day.setdefault(w.day, []).append((per_unit, w, k))
        elif w.mult_proc == "5" and w.factor == 1:
            units = max(1, int(w.units.to_integral_value()))
            for k in range(units):
                therapy.setdefault(w.day, []).append((w.parts[1], w, k))
        else:
            w.slots = [per_unit * w.units]
            if w.mult_proc in ("4", "5", "6", "7"):
                kind = {
                    "4": "diagnostic imaging",
                    "5": "therapy",
                    "6": "cardiovascular",
                    "7": "ophthalmology",
                }
                w.adjustments.append(
                    Adjustment(
                        "PFS-MPPR-NOT-APPLIED",
                        "info",
                        f"multiple procedure indicator {w.mult_proc} ({kind[w.mult_proc]} payment reduction)"
                        " is not computed here; the full amount is shown",
                        CITE_MULTIPLE,
                    )
                )
    for slots in by_day.values():
        slots.sort(key=lambda s: (-s[0], s[1].index, s[2]))
        for rank, (amount, w, unit) in enumerate(slots):
            if rank == 0:
                w.slots.append(amount)
                if len(slots) > 1:
                    w.adjustments.append(
                        Adjustment(
                            "PFS-MULTIPLE",
                            "info",
                            f"highest-paid procedure of {w.day} (MULT PROC {w.mult_proc}): paid at 100 %",
                            CITE_MULTIPLE,
                            1.0,
                        )
                    )
            else:
                w.slots.append(_money(amount * Decimal("0.5")))
                w.adjustments.append(
                    Adjustment(
                        "PFS-MULTIPLE",
                        "info",
                        f"{'unit ' + str(unit + 1) + ' of ' if w.units > 1 else ''}{w.code} ranked "
                        f"{rank + 1} by fee among procedures of {w.day} (MULT PROC {w.mult_proc}): "
                        "paid at 50 %"
                        + (" (endoscopic base rules not applied)" if w.mult_proc == "3" else ""),
                        CITE_MULTIPLE,
                        0.5,
                    )
                )

    _therapy_reduction(therapy)


def _therapy_reduction(therapy: dict[date, list[tuple[Decimal, _Work, int]]]) -> None:
    """MULT PROC 5: the therapy unit with the highest practice expense payment of the day is paid in
    full; the PE of every other therapy unit and service that day is paid at 50 %."""
    for slots in therapy.values():
        slots.sort(key=lambda s: (-s[0], s[1].index, s[2]))
        for rank, (_pe, w, unit) in enumerate(slots):
            work_part, pe_part, mp_part = w.parts
            if rank == 0:
                w.slots.append(_money((work_part + pe_part + mp_part) * w.cf))
                continue
            w.slots.append(_money((work_part + pe_part / 2 + mp_part) * w.cf))
            w.adjustments.append(
                Adjustment(
                    "PFS-THERAPY-MPPR",
                    "info",
                    f"{'unit ' + str(unit + 1) + ' of ' if w.units > 1 else ''}{w.code}: a further therapy "
                    f"unit of {w.day} (MULT PROC 5): its practice expense is paid at 50 %",
                    CITE_THERAPY,
                    None,
                )
            )


__all__ = [
    "FACILITY_POS",
    "Adjustment",
    "ClaimPrice",
    "FeeScheduleError",
    "LinePrice",
    "LocalityError",
    "PricingUnavailableError",
    "apply_fee_schedule",
    "fee_for",
    "fill_charges",
    "parse_fee_schedule",
    "price_claim",
    "read_fee_schedule",
    "resolve_locality",
]


def fill_charges(
    claim: EncounterClaim,
    kb: KnowledgeBase | None,
    *,
    fees: FeeSchedule | None = None,
    locality: str | None = None,
) -> EncounterClaim:
    """Billed charges: the practice fee schedule's where it lists the code (it overrides the claim's),
    else the claim's own, else (with a knowledge base) the PFS amount × units for the locality.

    Lines the PFS does not price (status codes other than A/R/T, codes not in the file) keep no charge.
    """
    if fees:
        claim = apply_fee_schedule(claim, fees)
    if kb is None or all(line.charge is not None for line in claim.lines):
        return claim
    priced = price_claim(claim, kb, locality=locality)
    lines = []
    for line, price in zip(claim.lines, priced.lines, strict=True):
        if line.charge is None and price.fee_schedule_amount is not None:
            amount = (Decimal(str(price.fee_schedule_amount)) * line.units).quantize(CENT)
            line = line.model_copy(update={"charge": amount})
        lines.append(line)
    return claim.model_copy(update={"lines": tuple(lines)})
