"""Queries on the procedure-side code sets: HCPCS/CPT, NCCI edits, fee schedule, POS, modifiers.

Pure functions over an open knowledge-base connection and release ids (``Release.id``, e.g.
``"ncci-ptp-practitioner:2024Q3"``); the caller picks the release that covers the date of
service. Every lookup uses a primary key or index. Procedure codes passed in are normalised
with :func:`normalize_procedure_code`, which raises :class:`InvalidCodeFormatError` for input
that cannot be a CPT/HCPCS code.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from chartcode.errors import InvalidCodeFormatError

_PROCEDURE_CODE = re.compile(r"[0-9]{4}[0-9A-Z]|[A-Z][0-9]{4}")
_MODIFIER = re.compile(r"[0-9A-Z]{2}")
_POS = re.compile(r"[0-9]{2}")


def normalize_procedure_code(code: str) -> str:
    """``" j3301 "`` -> ``"J3301"``; raise :class:`InvalidCodeFormatError` unless CPT/HCPCS-shaped.

    Accepted: 4 digits + a digit or letter (CPT, Category II/III, PLA, ...), or a letter + 4
    digits (HCPCS Level II).
    """
    text = code.strip().upper() if isinstance(code, str) else ""
    if len(text) != 5:
        raise InvalidCodeFormatError(
            f"{code!r} is not a valid CPT/HCPCS code: expected 5 characters such as 99213 or J3301",
            fix="give the code without modifiers or punctuation, e.g. 99213 (CPT) or J3301 (HCPCS Level II).",
        )
    if not _PROCEDURE_CODE.fullmatch(text):
        raise InvalidCodeFormatError(
            f"{code!r} is not a valid CPT/HCPCS code: expected 4 digits and a digit or letter (99213, 0001U) "
            "or a letter and 4 digits (J3301)",
            fix="check the code for typos (letter O versus digit 0, I versus 1).",
        )
    return text


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


# --- HCPCS / CPT ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HcpcsCode:
    """One HCPCS Level II code of a CMS alpha-numeric file release."""

    code: str
    seqnum: str | None
    long_description: str
    short_description: str | None
    add_date: date | None
    action_eff_date: date | None
    term_date: date | None
    action_code: str | None
    coverage: str | None
    betos: str | None
    pricing: tuple[str, ...]
    mult_pi: str | None
    tos: tuple[str, ...]
    xref: tuple[str, ...]


def hcpcs_row(conn: sqlite3.Connection, release: str, code: str) -> HcpcsCode | None:
    """The Level II code's row in release ``release`` (``hcpcs-level2:<version>``), or None."""
    row = conn.execute(
        "SELECT code, seqnum, long_description, short_description, add_date, action_eff_date, term_date,"
        " action_code, coverage, betos, pricing, mult_pi, tos, xref"
        " FROM hcpcs_codes WHERE release = ? AND code = ?",
        (release, normalize_procedure_code(code)),
    ).fetchone()
    if row is None:
        return None
    return HcpcsCode(
        code=row[0],
        seqnum=row[1],
        long_description=row[2],
        short_description=row[3],
        add_date=_date(row[4]),
        action_eff_date=_date(row[5]),
        term_date=_date(row[6]),
        action_code=row[7],
        coverage=row[8],
        betos=row[9],
        pricing=tuple(json.loads(row[10])),
        mult_pi=row[11],
        tos=tuple(json.loads(row[12])),
        xref=tuple(json.loads(row[13])),
    )


def procedure_validity_spans(conn: sqlite3.Connection, code: str) -> list[tuple[date, date | None]]:
    """Validity spans ``(from, to)`` of a CPT/HCPCS code number across installed validity releases.

    ``to`` None means still valid at the end of the data. Sorted by start; empty when the code is
    unknown.
    """
    rows = conn.execute(
        "SELECT DISTINCT effective_from, effective_to FROM hcpcs_validity WHERE code = ?"
        " ORDER BY effective_from",
        (normalize_procedure_code(code),),
    ).fetchall()
    return [(date.fromisoformat(start), _date(end)) for start, end in rows]


def cpt_description(conn: sqlite3.Connection, release: str, code: str) -> str | None:
    """The descriptor from the user's licensed CPT file (release ``cpt:<year>``), or None."""
    row = conn.execute(
        "SELECT description FROM cpt_descriptors WHERE release = ? AND code = ?",
        (release, normalize_procedure_code(code)),
    ).fetchone()
    return None if row is None else str(row[0])


# --- NCCI ----------------------------------------------------------------------------------------

MODIFIER_INDICATOR_TEXT = {0: "not allowed", 1: "allowed", 9: "not applicable"}


@dataclass(frozen=True)
class PtpEdit:
    """One version of an NCCI procedure-to-procedure edit: column 2 is bundled into column 1."""

    column1: str
    column2: str
    effective: date | None  # None: not given (the mirror has no effective dates)
    deletion: date | None  # None: not deleted (CMS "*")
    modifier_indicator: int  # 0 not allowed, 1 allowed, 9 not applicable (deleted retroactively)
    rationale: str | None
    prior_1996: bool  # CMS flags the edit "in existence prior to 1996"

    def in_effect_on(self, day: date) -> bool:
        """Whether the edit applies on ``day``.

        CMS: an edit does not apply to dates of service on or after its deletion date; an edit
        deleted on its effective date (indicator 9) never applied. An unknown effective date is
        taken as "in effect since before ``day``".
        """
        if self.modifier_indicator == 9:
            return False
        if self.effective is not None and day < self.effective:
            return False
        return self.deletion is None or day < self.deletion


_PTP_SELECT = (
    "SELECT p.column1, p.column2, p.effective, p.deletion, p.modifier_indicator, r.text, p.prior_1996"
    " FROM ncci_ptp p LEFT JOIN ncci_rationales r ON r.release = p.release AND r.id = p.rationale_id"
)


def _ptp(row: tuple[str, str, str | None, str | None, int, str | None, int | None]) -> PtpEdit:
    return PtpEdit(
        column1=row[0],
        column2=row[1],
        effective=_date(row[2]),
        deletion=_date(row[3]),
        modifier_indicator=int(row[4]),
        rationale=row[5],
        prior_1996=bool(row[6]),
    )


def ptp_edits(conn: sqlite3.Connection, release: str, column1: str, column2: str) -> list[PtpEdit]:
    """Every version of the edit with ``column1`` as column 1 and ``column2`` as column 2 (in file order)."""
    rows = conn.execute(
        f"{_PTP_SELECT} WHERE p.release = ? AND p.column1 = ? AND p.column2 = ? ORDER BY p.seq",
        (release, normalize_procedure_code(column1), normalize_procedure_code(column2)),
    ).fetchall()
    return [_ptp(row) for row in rows]


def ptp_for_codes(conn: sqlite3.Connection, release: str, codes: Sequence[str]) -> list[PtpEdit]:
    """Every edit (all versions, both directions) between two different codes of ``codes``, in one query."""
    unique = sorted({normalize_procedure_code(code) for code in codes})
    if len(unique) < 2:
        return []
    marks = ", ".join("?" * len(unique))
    rows = conn.execute(
        f"{_PTP_SELECT} WHERE p.release = ? AND p.column1 IN ({marks}) AND p.column2 IN ({marks})"
        " ORDER BY p.column1, p.column2, p.seq",
        (release, *unique, *unique),
    ).fetchall()
    return [_ptp(row) for row in rows]


@dataclass(frozen=True)
class Mue:
    """Medically unlikely edit: at most ``mue`` units per line (MAI 1) or per date of service (MAI 2/3)."""

    code: str
    mue: int
    mai: int  # 1 line edit, 2 date-of-service edit (policy), 3 date-of-service edit (clinical)
    rationale: str | None


def mue(conn: sqlite3.Connection, release: str, code: str) -> Mue | None:
    """The MUE of ``code`` in release ``ncci-mue-<setting>:<quarter>``, or None (no published MUE)."""
    row = conn.execute(
        "SELECT code, mue, mai, rationale FROM ncci_mue WHERE release = ? AND code = ?",
        (release, normalize_procedure_code(code)),
    ).fetchone()
    return None if row is None else Mue(code=row[0], mue=int(row[1]), mai=int(row[2]), rationale=row[3])


def addon_primaries(conn: sqlite3.Connection, release: str, addon: str) -> list[tuple[str, int]]:
    """``(primary code, edit type)`` pairs of an add-on code; primary ``CCCCC`` = contractor-defined."""
    rows = conn.execute(
        "SELECT primary_code, edit_type FROM ncci_aoc WHERE release = ? AND addon = ? ORDER BY primary_code",
        (release, normalize_procedure_code(addon)),
    ).fetchall()
    return [(str(primary), int(kind)) for primary, kind in rows]


def is_addon(conn: sqlite3.Connection, release: str, code: str) -> bool:
    """Whether ``code`` is an add-on code in the NCCI add-on code edits release."""
    row = conn.execute(
        "SELECT 1 FROM ncci_aoc WHERE release = ? AND addon = ? LIMIT 1",
        (release, normalize_procedure_code(code)),
    ).fetchone()
    return row is not None


# --- Physician Fee Schedule ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rvu:
    """PFS relative value units and payment indicators of a code (+ modifier)."""

    code: str
    modifier: str  # "" for the global (no modifier) row
    status: str | None
    work_rvu: float | None
    nf_pe_rvu: float | None
    nf_na: str | None
    f_pe_rvu: float | None
    f_na: str | None
    mp_rvu: float | None
    nf_total: float | None
    f_total: float | None
    pctc: str | None
    global_days: str | None
    mult_proc: str | None
    bilat_surg: str | None
    asst_surg: str | None
    co_surg: str | None
    team_surg: str | None
    endo_base: str | None
    conv_factor: float | None
    phys_supervision: str | None
    diag_imaging_family: str | None


def rvu(conn: sqlite3.Connection, release: str, code: str, modifier: str = "") -> Rvu | None:
    """The RVU row of ``code`` with ``modifier`` ("" = global, "26", "TC", "53") in ``pfs-rvu:<quarter>``."""
    mod = modifier.strip().upper()
    if mod and not _MODIFIER.fullmatch(mod):
        raise InvalidCodeFormatError(
            f"{modifier!r} is not a valid modifier: expected 2 characters such as 26 or TC"
        )
    row = conn.execute(
        "SELECT code, modifier, status, work_rvu, nf_pe_rvu, nf_na, f_pe_rvu, f_na, mp_rvu, nf_total,"
        " f_total, pctc, global_days, mult_proc, bilat_surg, asst_surg, co_surg, team_surg, endo_base,"
        " conv_factor, phys_supervision, diag_imaging_family"
        " FROM pfs_rvu WHERE release = ? AND code = ? AND modifier = ?",
        (release, normalize_procedure_code(code), mod),
    ).fetchone()
    return None if row is None else Rvu(*row)


@dataclass(frozen=True)
class Gpci:
    """Geographic practice cost indices of one Medicare payment locality."""

    mac: str
    state: str | None
    locality: str
    locality_name: str | None
    pw: float
    pe: float
    mp: float


def gpci(conn: sqlite3.Connection, release: str, mac: str, locality: str) -> Gpci | None:
    """The GPCIs of a locality (contractor ``"10112"``, locality ``"00"``) in ``pfs-gpci:CY<year>``."""
    row = conn.execute(
        "SELECT mac, state, locality, locality_name, pw, pe, mp FROM pfs_gpci"
        " WHERE release = ? AND mac = ? AND locality = ?",
        (release, mac.strip().zfill(5), locality.strip().zfill(2)),
    ).fetchone()
    return None if row is None else Gpci(*row)


def anesthesia_cf(conn: sqlite3.Connection, release: str, mac: str, locality: str) -> float | None:
    """The anesthesia conversion factor of a locality in ``pfs-anes:CY<year>``, or None."""
    row = conn.execute(
        "SELECT cf FROM pfs_anes WHERE release = ? AND mac = ? AND locality = ?",
        (release, mac.strip().zfill(5), locality.strip().zfill(2)),
    ).fetchone()
    return None if row is None else float(row[0])


@dataclass(frozen=True)
class Locality:
    """A row of the locality/county crosswalk."""

    mac: str
    locality: str
    state: str | None
    area: str | None
    counties: str | None


def localities(conn: sqlite3.Connection, release: str, mac: str, locality: str) -> list[Locality]:
    """Crosswalk rows (state, fee schedule area, counties) of a locality in ``pfs-locality:CY<year>``."""
    rows = conn.execute(
        "SELECT mac, locality, state, area, counties FROM pfs_locality"
        " WHERE release = ? AND mac = ? AND locality = ? ORDER BY rowid",
        (release, mac.strip().zfill(5), locality.strip().zfill(2)),
    ).fetchall()
    return [Locality(*row) for row in rows]


# --- place of service, modifiers -----------------------------------------------------------------


@dataclass(frozen=True)
class PlaceOfService:
    code: str
    name: str
    description: str | None


def pos(conn: sqlite3.Connection, release: str, code: str) -> PlaceOfService | None:
    """Place of service ``code`` ("11", or "2" meaning "02") in release ``pos:current``, or None."""
    text = code.strip().zfill(2)
    if not _POS.fullmatch(text):
        raise InvalidCodeFormatError(
            f"{code!r} is not a valid place of service code: expected 2 digits such as 11"
        )
    row = conn.execute(
        "SELECT code, name, description FROM pos_codes WHERE release = ? AND code = ?", (release, text)
    )
    found = row.fetchone()
    return None if found is None else PlaceOfService(*found)


@dataclass(frozen=True)
class Modifier:
    modifier: str
    type: str  # "HCPCS Level II" or "CPT"
    description: str | None  # None for CPT modifiers (AMA text is not distributed)


def modifier(conn: sqlite3.Connection, release: str, mod: str) -> Modifier | None:
    """Modifier ``mod`` ("25", "xs") in release ``modifiers:current``, or None."""
    text = mod.strip().upper()
    if not _MODIFIER.fullmatch(text):
        raise InvalidCodeFormatError(
            f"{mod!r} is not a valid modifier: expected 2 characters such as 25 or XS"
        )
    row = conn.execute(
        "SELECT modifier, type, description FROM modifiers WHERE release = ? AND modifier = ?",
        (release, text),
    ).fetchone()
    return None if row is None else Modifier(*row)
