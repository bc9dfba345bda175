"""Claim edits: throughput, cold start and memory, against the claim-validator package in the same run.

Run: ``python benchmarks/claims_bench.py --kb KB.sqlite`` with a knowledge base of the full mirror
(NCCI PTP practitioner table, MUE, add-on, MCE, ICD-10-CM and HCPCS validity) and
``pip install claim-validator==0.3.0`` for the peer (the peer columns are left out without it).

Claims are synthetic and built from real codes in the knowledge base (read-only): 1-6 lines each,
E/M visits, labs, imaging, minor procedures, drugs with their administration, ICD-10-CM codes valid on
dates of service in 2024Q3, Medicare, Medicaid and commercial payers. Each measurement runs in a
fresh process pinned to one core:

* throughput: claim lines per second through ``chartcode.edits.api.check`` (claims already
  validated), and from the claim dictionaries (validation + check), first pass (cold caches) and the
  median of the later passes; the peer's rule-based ``ValidationPipeline`` (built once) from the same
  dictionaries;
* cold start: a new process to the first claim checked (median of 3), with a bare ``python -c pass``
  for reference;
* peak RSS of the throughput process.

Detection: a sample of the claims is seeded with one known problem of each family (NCCI PTP pair,
MUE, add-on without primary, deleted codes, ICD-10-CM header, MCE sex/age/manifestation, Excludes1,
bad pointer, duplicate line, E/M without 25, laterality, 59 with an X modifier, TC with 26, telehealth
without 95 (chartcode's example payer pack), invalid place of service). A family counts as detected
on a claim when the seeded claim has a finding, absent from the same claim unseeded, of a rule (or
peer finding code) that names that problem; the rules and codes accepted are printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PACK = REPO / "examples" / "payer_pack.yaml"
Q3 = (date(2024, 7, 1), date(2024, 9, 30))
PROBE = date(2024, 8, 15)
NPI = "1234567893"  # a valid check digit (CMS example NPI)

# Common outpatient diagnoses (checked against the knowledge base; codes not valid in 2024Q3 are dropped).
COMMON_DX = """
I10 E11.9 E11.65 E11.22 E78.5 E78.2 E66.9 E66.01 Z68.30 J06.9 J02.9 J01.90 J20.9 J45.909 J44.9 J18.9
M54.50 M54.2 M25.561 M25.562 M17.11 M17.12 M79.7 G43.909 R51.9 G47.33 F41.1 F32.A F33.1 F90.0 K21.9
K59.00 K58.9 R10.9 R11.2 N39.0 N18.31 N40.0 E03.9 E55.9 D64.9 D50.9 I25.10 I48.91 I50.9 R00.2 R06.02
R05.9 R50.9 L03.115 L30.9 L70.0 H10.9 H66.90 H61.23 B34.9 U07.1 Z00.00 Z00.01 Z23 Z79.4 Z79.84 Z87.891
R73.03 R79.89 E87.6 M81.0 M62.830 S93.401A S39.012A S61.411A T14.8XXA Z12.31 Z13.220 Z71.3 R42 R53.83
""".split()  # noqa: SIM905
EM_NEW = ["99202", "99203", "99204", "99205"]
EM_EST = ["99211", "99212", "99213", "99214", "99215"]
EM_WEIGHTS_EST = [2, 10, 45, 35, 8]
LINES_PER_CLAIM = [1, 2, 3, 4, 5, 6]
LINES_WEIGHTS = [22, 26, 20, 15, 10, 7]


# --- the knowledge base, read-only -------------------------------------------------------------


def connect(kb: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{kb}?mode=ro", uri=True)


def valid_on(day: date) -> str:
    return f"effective_from <= '{day}' AND (effective_to IS NULL OR effective_to >= '{day}')"


class Pools:
    """Real codes from the knowledge base, by kind, valid throughout 2024Q3."""

    def __init__(self, conn: sqlite3.Connection, rng: random.Random) -> None:
        q = lambda sql, *a: conn.execute(sql, a).fetchall()  # noqa: E731
        start, end = Q3
        icd_ok = {
            c for (c,) in q(f"SELECT code FROM icd_validity WHERE {valid_on(start)} AND {valid_on(end)}")
        }
        self.icd_valid = icd_ok
        noisy = {c for (c,) in q("SELECT DISTINCT code FROM mce_edits")}
        self.common_dx = [c for c in COMMON_DX if c in icd_ok]
        rare = sorted(c for c in icd_ok if c not in noisy and c[0] not in "OPVWXYZ")
        self.rare_dx = rng.sample(rare, min(4000, len(rare)))
        hcpcs_ok = {
            c for (c,) in q(f"SELECT code FROM hcpcs_validity WHERE {valid_on(start)} AND {valid_on(end)}")
        }
        self.hcpcs_valid = hcpcs_ok
        rvu = q(
            "SELECT code, global_days FROM pfs_rvu WHERE release = (SELECT id FROM releases WHERE dataset = "
            "'pfs-rvu' ORDER BY effective_from DESC LIMIT 1) AND modifier = '' AND status = 'A'"
        )
        addons = {c for (c,) in q("SELECT DISTINCT addon FROM ncci_aoc")}
        self.addons = addons
        self.global_days = {code: days for code, days in rvu if code in hcpcs_ok and code.isdigit()}
        # never drawn at random: add-on codes (they come with their primary procedure) and codes that an
        # NCCI edit with modifier indicator 0 forbids on the day of an office visit
        em = ", ".join(f"'{c}'" for c in EM_NEW + EM_EST)
        em_conflicts = {
            a if b in EM_NEW + EM_EST else b
            for a, b in q(
                "SELECT column1, column2 FROM ncci_ptp WHERE release LIKE 'ncci-ptp-practitioner:%' AND "
                f"modifier_indicator = 0 AND (column1 IN ({em}) OR column2 IN ({em}))"
            )
        }
        active = {c: d for c, d in self.global_days.items() if c not in addons and c not in em_conflicts}
        self.labs = sorted(c for c in active if c.startswith("8"))
        self.imaging = sorted(c for c in active if c.startswith("7"))
        self.medicine = sorted(c for c in active if c.startswith("9") and not c.startswith("99"))
        self.minor = sorted(c for c, days in active.items() if c[0] in "123456" and days in ("000", "010"))
        drug_rows = q(
            "SELECT code FROM hcpcs_codes WHERE release = (SELECT id FROM releases WHERE dataset = "
            "'hcpcs-level2' ORDER BY effective_from DESC LIMIT 1) AND code LIKE 'J%' AND term_date IS NULL"
        )
        self.mue = {
            code: (mue, mai)
            for code, mue, mai in q(
                "SELECT code, mue, mai FROM ncci_mue WHERE release LIKE 'ncci-mue-practitioner:%'"
            )
        }
        # drugs still payable (an MUE of 0 marks a discontinued drug)
        self.drugs = sorted(
            c for (c,) in drug_rows if c in hcpcs_ok and c < "J7000" and self.mue.get(c, (1, 3))[0] > 0
        )
        self.dx_sex = {
            c: s for c, s in q("SELECT code, sex FROM mce_edits WHERE edit = 'sex' AND sex IN ('F', 'M')")
        }
        self._q = q

    def seeds(self, rng: random.Random) -> dict[str, list[Any]]:
        """Concrete problem material for each seeded family."""
        q = self._q
        ptp = q(
            "SELECT column1, column2 FROM ncci_ptp WHERE release LIKE 'ncci-ptp-practitioner:%' AND "
            f"modifier_indicator = 0 AND (deletion IS NULL OR deletion > '{Q3[1]}') AND "
            f"(effective IS NULL OR effective <= '{Q3[0]}') AND column1 NOT LIKE '0%' LIMIT 200000"
        )
        ptp = [(a, b) for a, b in ptp if a in self.global_days and b in self.global_days and a != b]
        mue = [(c, m) for c, (m, _mai) in self.mue.items() if 1 <= m <= 2 and c in self.global_days]
        addon = [
            a
            for (a,) in q("SELECT DISTINCT addon FROM ncci_aoc WHERE edit_type = 1")
            if a in self.hcpcs_valid and a.isdigit()
        ]
        deleted_proc = [
            c
            for (c,) in q(f"SELECT code FROM hcpcs_validity WHERE effective_to < '{Q3[0]}'")
            if c not in self.hcpcs_valid and len(c) == 5
        ]
        deleted_dx = [
            c
            for (c,) in q(f"SELECT code FROM icd_validity WHERE effective_to < '{Q3[0]}'")
            if c not in self.icd_valid
        ]
        headers = [
            c
            for (c,) in q("SELECT code FROM icd_codes WHERE billable = 0 AND length(code) >= 5")
            if c not in self.icd_valid
        ]
        sex = [
            (c, s)
            for c, s in q("SELECT code, sex FROM mce_edits WHERE edit = 'sex' AND sex IN ('F', 'M')")
            if c in self.icd_valid
        ]
        newborn = [
            c
            for (c,) in q("SELECT code FROM mce_edits WHERE edit = 'age' AND age_edit = 'NEWBORN'")
            if c in self.icd_valid
        ]
        manifestation = [
            c for (c,) in q("SELECT code FROM mce_edits WHERE edit = 'manifestation'") if c in self.icd_valid
        ]
        excludes1 = []
        for owner, targets in q(
            "SELECT code, targets FROM icd_notes WHERE kind = 'excludes1' AND targets IS NOT NULL"
        ):
            if owner not in self.icd_valid:
                continue
            for low, high in json.loads(targets):
                if low == high and low in self.icd_valid and low[:3] != owner[:3]:
                    excludes1.append((owner, low))
        return {
            "ptp": rng.sample(ptp, min(400, len(ptp))),
            "mue": mue,
            "addon": addon,
            "proc_invalid": deleted_proc,
            "dx_invalid": deleted_dx,
            "dx_header": headers,
            "mce_sex": sex,
            "mce_age": newborn,
            "manifestation": manifestation,
            "excludes1": excludes1,
        }


# --- synthetic claims --------------------------------------------------------------------------


def generate(pools: Pools, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """``n`` claim dictionaries in the chartcode claim layout."""
    start = Q3[0]
    days = (Q3[1] - Q3[0]).days + 1
    claims = []
    for k in range(n):
        day = start + timedelta(days=rng.randrange(days))
        age = rng.randint(18, 90)
        born = day - timedelta(days=365 * age + rng.randrange(365))
        payer_type = rng.choices(["medicare", "commercial", "medicaid"], [60, 30, 10])[0]
        payer_id = {"medicare": "12202", "medicaid": "IL-MCD"}.get(payer_type) or rng.choice(
            ["ACME01", "BCBS9"]
        )
        n_dx = rng.choices([1, 2, 3, 4], [30, 35, 20, 15])[0]
        dx: list[str] = []
        while len(dx) < n_dx:
            code = rng.choice(pools.common_dx) if rng.random() < 0.8 else rng.choice(pools.rare_dx)
            if code not in dx:
                dx.append(code)
        pos = rng.choices(["11", "22", "02", "10"], [85, 5, 5, 5])[0]
        n_lines = rng.choices(LINES_PER_CLAIM, LINES_WEIGHTS)[0]
        lines: list[dict[str, Any]] = []
        has_em = rng.random() < 0.75
        if has_em:
            em = rng.choice(EM_NEW) if rng.random() < 0.12 else rng.choices(EM_EST, EM_WEIGHTS_EST)[0]
            mods = ["95"] if pos in ("02", "10") and rng.random() < 0.8 else []
            lines.append({"code": em, "modifiers": mods})
        while len(lines) < n_lines:
            kind = rng.choices(["lab", "medicine", "imaging", "minor", "drug"], [35, 20, 15, 15, 15])[0]
            if kind == "drug" and len(lines) + 2 <= n_lines:
                drug = rng.choice(pools.drugs)
                limit = pools.mue.get(drug, (4, 3))[0] or 1
                lines.append({"code": drug, "units": rng.randint(1, max(1, min(4, limit)))})
                lines.append({"code": "96372"})
                if has_em and "25" not in lines[0]["modifiers"]:  # injection and visit the same day
                    lines[0]["modifiers"] = [*lines[0]["modifiers"], "25"]
                continue
            pool = {"lab": pools.labs, "medicine": pools.medicine, "imaging": pools.imaging}.get(
                kind, pools.minor
            )
            code = rng.choice(pool)
            if any(line["code"] == code for line in lines):
                continue
            lines.append({"code": code})
            # a biller appends 25 to an E/M on the day of a procedure with a 0- or 10-day global period
            if has_em and pools.global_days.get(code) in ("000", "010") and "25" not in lines[0]["modifiers"]:
                lines[0]["modifiers"] = [*lines[0]["modifiers"], "25"]
        for line in lines:
            line.setdefault("modifiers", [])
            line.setdefault("units", 1)
            line["dx_pointers"] = sorted(rng.sample(range(1, n_dx + 1), min(n_dx, rng.choice([1, 1, 2]))))
            line["charge"] = f"{rng.randint(15, 400)}.00"
        sexes = {pools.dx_sex[d] for d in dx if d in pools.dx_sex}
        sex = sexes.pop() if len(sexes) == 1 else rng.choice("FM")
        claims.append(
            {
                "id": f"B{k + 1:06d}",
                "patient": {"sex": sex, "birth_date": born.isoformat()},
                "payer": {"id": payer_id, "type": payer_type},
                "place_of_service": pos,
                "date_of_service": day.isoformat(),
                "diagnoses": dx,
                "lines": lines,
            }
        )
    return claims


def to_peer(claim: dict[str, Any]) -> dict[str, Any]:
    """The same claim in claim-validator's ClaimData layout (names and ids filled so that it does not
    complain about fields the chartcode claim does not carry)."""
    day = claim["date_of_service"]
    lines = [
        {
            "procedure_code": line["code"],
            "modifiers": list(line.get("modifiers", [])),
            "diagnosis_pointers": list(line.get("dx_pointers", [])),
            # the peer's charge is per unit (its total check multiplies by units); ours is the line's
            "charge_amount": round(float(line.get("charge") or 1) / float(line.get("units", 1)), 2),
            "units": float(line.get("units", 1)),
            "service_date_from": line.get("date_of_service") or day,
            "place_of_service": line.get("place_of_service"),
        }
        for line in claim["lines"]
    ]
    filed = date.fromisoformat(day) + timedelta(days=14)
    return {
        "billing_provider_npi": NPI,
        "rendering_provider_npi": NPI,
        "subscriber_id": "1EG4TE5MK72" if claim["payer"]["type"] == "medicare" else "XYZ123456789",
        "subscriber_first_name": "TEST",
        "subscriber_last_name": "PATIENT",
        "subscriber_dob": claim["patient"]["birth_date"],
        "subscriber_gender": claim["patient"]["sex"],
        "patient_first_name": "TEST",
        "patient_last_name": "PATIENT",
        "patient_dob": claim["patient"]["birth_date"],
        "patient_gender": claim["patient"]["sex"],
        "patient_relationship": "self",
        "payer_id": claim["payer"]["id"],
        "place_of_service": claim["place_of_service"],
        "total_charge": round(sum(ln["charge_amount"] * ln["units"] for ln in lines), 2),
        "filing_date": filed.isoformat(),
        "diagnosis_codes": [
            {"code": code, "pointer": i + 1, "type": "principal" if i == 0 else "secondary"}
            for i, code in enumerate(claim["diagnoses"])
        ],
        "lines": lines,
    }


# --- seeded problems ---------------------------------------------------------------------------

CHARTCODE_RULES: dict[str, set[str]] = {
    "ptp": {"NCCI-PTP"},
    "mue": {"NCCI-MUE"},
    "addon": {"NCCI-ADDON"},
    "proc_invalid": {"CODE-INVALID"},
    "dx_invalid": {"CODE-INVALID"},
    "dx_header": {"CODE-HEADER", "CODE-INVALID"},
    "mce_sex": {"MCE-SEX"},
    "mce_age": {"MCE-AGE"},
    "manifestation": {"MCE-MANIFESTATION", "ICD-CODE-FIRST"},
    "excludes1": {"ICD-EXCLUDES1"},
    "pointer": {"DX-POINTER"},
    "duplicate": {"DUPLICATE-LINE"},
    "em25": {"EM-MODIFIER-25", "NCCI-PTP"},
    "laterality": {"LATERALITY"},
    "mod59x": {"MODIFIER-CONFLICT"},
    "tc26": {"MODIFIER-CONFLICT"},
    "telehealth": {"PAYER-TELEHEALTH-MODIFIER"},
    "pos_invalid": {"POS-INVALID"},
}
PEER_CODES: dict[str, set[str]] = {
    "ptp": set(),
    "mue": {"UNREALISTIC_UNITS"},
    "addon": set(),
    "proc_invalid": {"INVALID_PROCEDURE_CODE", "INVALID_PROCEDURE_CODE_FORMAT"},
    "dx_invalid": {"INVALID_DIAGNOSIS_CODE", "INVALID_DIAGNOSIS_CODE_FORMAT"},
    "dx_header": {"INVALID_DIAGNOSIS_CODE", "INVALID_DIAGNOSIS_CODE_FORMAT"},
    "mce_sex": set(),
    "mce_age": set(),
    "manifestation": set(),
    "excludes1": set(),
    "pointer": {"INVALID_DIAGNOSIS_POINTER"},
    "duplicate": {"DUPLICATE_LINE"},
    "em25": set(),
    "laterality": set(),
    "mod59x": {"MODIFIER_59_WITH_X_MODIFIER"},
    "tc26": {"TC_PROFESSIONAL_CONFLICT"},
    "telehealth": set(),
    "pos_invalid": {"INVALID_PLACE_OF_SERVICE"},
}
FAMILY_TEXT = {
    "ptp": "NCCI PTP pair (modifier indicator 0), same day",
    "mue": "units above the NCCI MUE",
    "addon": "add-on code without its primary",
    "proc_invalid": "procedure code deleted before the date of service",
    "dx_invalid": "ICD-10-CM code not valid on the date of service",
    "dx_header": "ICD-10-CM header (not billable) code",
    "mce_sex": "diagnosis for the other sex (MCE)",
    "mce_age": "newborn diagnosis on an adult (MCE)",
    "manifestation": "manifestation code listed first (MCE)",
    "excludes1": "Excludes1 pair of diagnoses",
    "pointer": "diagnosis pointer to a missing diagnosis",
    "duplicate": "duplicate service line",
    "em25": "E/M with a same-day minor procedure, no modifier 25",
    "laterality": "LT modifier, right-side diagnosis",
    "mod59x": "modifier 59 together with XS",
    "tc26": "modifiers TC and 26 on one line",
    "telehealth": "telehealth POS 02 without 95 (payer pack)",
    "pos_invalid": "place of service 00 (not a code)",
}


def _add_dx(claim: dict[str, Any], code: str, line: int = 0) -> None:
    claim["diagnoses"].append(code)
    pointers = claim["lines"][line]["dx_pointers"]
    if len(pointers) >= 4:
        pointers.pop()
    pointers.append(len(claim["diagnoses"]))


def _line(code: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "modifiers": [], "units": 1, "dx_pointers": [1], "charge": "50.00", **extra}


def seed(
    family: str, base: dict[str, Any], material: dict[str, list[Any]], rng: random.Random
) -> dict[str, Any]:
    """A copy of ``base`` with one problem of ``family``."""
    c = json.loads(json.dumps(base))
    c["id"] = f"{base['id']}-{family}"
    pick = lambda key: rng.choice(material[key])  # noqa: E731
    if family == "ptp":
        a, b = pick("ptp")
        c["lines"] += [_line(a), _line(b)]
    elif family == "mue":
        code, limit = pick("mue")
        c["lines"].append(_line(code, units=limit + 2))
    elif family == "addon":
        c["lines"].append(_line(pick("addon")))
    elif family == "proc_invalid":
        c["lines"].append(_line(pick("proc_invalid")))
    elif family in ("dx_invalid", "dx_header", "mce_age"):
        if len(c["diagnoses"]) >= 12:
            c["diagnoses"].pop()
        _add_dx(c, pick(family))
    elif family == "mce_sex":
        code, sex = pick("mce_sex")
        c["patient"]["sex"] = "M" if sex == "F" else "F"
        _add_dx(c, code)
    elif family == "manifestation":
        c["diagnoses"].insert(0, pick("manifestation"))
        for line in c["lines"]:
            line["dx_pointers"] = [*[p + 1 for p in line["dx_pointers"]][:3], 1]
    elif family == "excludes1":
        a, b = pick("excludes1")
        c["diagnoses"] = [*[d for d in c["diagnoses"] if d not in (a, b)][:10], a, b]
        for line in c["lines"]:
            line["dx_pointers"] = [p for p in line["dx_pointers"] if p <= len(c["diagnoses"]) - 2] or [1]
        c["lines"][0]["dx_pointers"] = [len(c["diagnoses"]) - 1, len(c["diagnoses"])]
    elif family == "pointer":
        c["lines"][0]["dx_pointers"] = [len(c["diagnoses"]) + 2]
    elif family == "duplicate":
        c["lines"].append(json.loads(json.dumps(c["lines"][-1])))
    elif family == "em25":
        c["lines"].insert(0, _line("99213"))
        c["lines"] = [c["lines"][0]] + [ln for ln in c["lines"][1:] if not ln["code"].startswith("992")]
        c["lines"].append(_line("20610"))
    elif family == "laterality":
        c["diagnoses"] = [*c["diagnoses"][:11], "M17.11"]
        c["lines"].append(_line("20610", modifiers=["LT"], dx_pointers=[len(c["diagnoses"])]))
    elif family == "mod59x":
        c["lines"].append(_line("20610", modifiers=["59", "XS"]))
    elif family == "tc26":
        c["lines"].append(_line("71046", modifiers=["TC", "26"]))
    elif family == "telehealth":
        c["payer"] = {"id": "ACME01", "type": "commercial"}
        c["place_of_service"] = "02"
        c["lines"].append(_line("99214"))
        c["lines"] = [c["lines"][-1]] + [ln for ln in c["lines"][:-1] if not ln["code"].startswith("992")]
    elif family == "pos_invalid":
        c["place_of_service"] = "00"
    else:  # pragma: no cover
        raise ValueError(family)
    return c


# --- measurements (each in its own process) ------------------------------------------------------


def one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def peak_mb() -> float:
    """Peak RSS of this process: VmHWM (ru_maxrss survives exec, so it can report the parent's size)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current RSS (VmRSS), 0 where /proc is not available."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def load_claims(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def timed_passes(fn: Callable[[Any], Any], items: list[Any], n_lines: int, passes: int) -> dict[str, float]:
    rates = []
    for _ in range(passes):
        started = time.perf_counter()
        for item in items:
            fn(item)
        rates.append(n_lines / (time.perf_counter() - started))
    later = rates[1:] or rates
    return {"first_pass_lines_per_s": rates[0], "lines_per_s": statistics.median(later)}


def child_chartcode(kb: Path, claims_path: Path, passes: int) -> dict[str, Any]:
    from chartcode.codesets.kb import open_kb
    from chartcode.edits.api import check
    from chartcode.edits.io import parse_claim

    one_core()
    base = open_kb(kb)
    check(load_claims(claims_path)[0], base)
    rss = {"after_first_claim": rss_mb()}
    data = load_claims(claims_path)
    n_lines = sum(len(c["lines"]) for c in data)
    started = time.perf_counter()
    claims = [parse_claim(c) for c in data]
    parse_rate = n_lines / (time.perf_counter() - started)
    rss["claims_in_memory"] = rss_mb()
    errors = 0

    def run(claim: Any) -> None:
        nonlocal errors
        result = check(claim, base)
        errors += sum(1 for f in result.findings if f.severity == "error")

    checked = timed_passes(run, claims, n_lines, passes)
    from_dicts = timed_passes(lambda d: check(d, base), data, n_lines, 2)
    findings = [check(c, base).findings for c in claims]
    return {
        "claims": len(claims),
        "lines": n_lines,
        **checked,
        "from_dicts_lines_per_s": from_dicts["lines_per_s"],
        "validation_only_lines_per_s": parse_rate,
        "claims_with_error_findings": sum(1 for fs in findings if any(f.severity == "error" for f in fs)),
        "findings_per_claim": sum(len(fs) for fs in findings) / len(findings),
        "not_run_findings": sum(1 for fs in findings for f in fs if f.rule.endswith("-NOT-RUN")),
        "peak_mb": peak_mb(),
        "rss_mb": rss | {"after_all_checks": rss_mb()},
    }


def peer_pipeline() -> Callable[[dict[str, Any]], Any]:
    from claim_validator.models.claim import ClaimData
    from claim_validator.validators.pipeline import ValidationPipeline

    pipeline = ValidationPipeline.from_settings(None)
    return lambda d: pipeline.run(ClaimData(**d))


def child_peer(claims_path: Path, passes: int) -> dict[str, Any]:
    one_core()
    run = peer_pipeline()
    data = [to_peer(c) for c in load_claims(claims_path)]
    n_lines = sum(len(c["lines"]) for c in data)

    def safe(d: dict[str, Any]) -> Any:
        try:
            return run(d)
        except Exception:  # the peer rejects a claim it cannot model
            return None

    measured = timed_passes(safe, data, n_lines, passes)
    results = [safe(d) for d in data]
    return {
        "claims": len(data),
        "lines": n_lines,
        **measured,
        "rejected_claims": sum(1 for r in results if r is None),
        "claims_with_error_findings": sum(1 for r in results if r is not None and not r.passed),
        "findings_per_claim": sum(len(r.findings) for r in results if r is not None) / len(results),
        "peak_mb": peak_mb(),
    }


def child_cold(kb: Path, claims_path: Path, which: str) -> dict[str, Any]:
    with claims_path.open(encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    if which == "peer":
        peer_pipeline()(to_peer(first))
    else:
        from chartcode.codesets.kb import open_kb
        from chartcode.edits.api import check

        check(first, open_kb(kb))
    return {"ok": True}


def spawn(args: list[str]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), elapsed


def cold_start(kb: Path, claims_path: Path, which: str) -> float:
    args = ["--kb", str(kb), "--child", "cold", "--which", which, "--claims-file", str(claims_path)]
    return statistics.median(spawn(args)[1] for _ in range(3))


def bare_python() -> float:
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


# --- detection ---------------------------------------------------------------------------------


def detection(
    kb: Path,
    base_claims: list[dict[str, Any]],
    material: dict[str, list[Any]],
    per_family: int,
    seed_value: int,
    with_peer: bool,
) -> dict[str, Any]:
    from chartcode.codesets.kb import open_kb
    from chartcode.edits.api import check
    from chartcode.edits.packs import load_pack

    base_kb = open_kb(kb)
    packs = [load_pack(PACK)]
    peer = peer_pipeline() if with_peer else None
    rng = random.Random(seed_value)

    def ours(c: dict[str, Any]) -> set[tuple[str, tuple[int, ...], tuple[str, ...], str]]:
        return {(f.rule, f.lines, f.codes, f.message) for f in check(c, base_kb, packs=packs).findings}

    def theirs(c: dict[str, Any]) -> set[tuple[str, Any, str, str]]:
        assert peer is not None
        try:
            result = peer(to_peer(c))
        except Exception as exc:  # rejected by its model: report as a finding of its own
            return {("REJECTED", None, type(exc).__name__, "")}
        return {(f.code, f.line_number, f.field_name, f.message) for f in result.findings}

    table: dict[str, Any] = {}
    for family in CHARTCODE_RULES:
        if family in material and not material[family]:
            table[family] = {"skipped": "no material in the knowledge base"}
            continue
        hits_ours = hits_peer = 0
        other_ours: dict[str, int] = {}
        for base in base_claims[:per_family]:
            seeded = seed(family, base, material, rng)
            new = ours(seeded) - ours(base)
            if any(rule in CHARTCODE_RULES[family] for rule, *_ in new):
                hits_ours += 1
            else:
                for rule, *_ in new:
                    other_ours[rule] = other_ours.get(rule, 0) + 1
            if peer is not None:
                new_peer = theirs(seeded) - theirs(base)
                if any(code in PEER_CODES[family] for code, *_ in new_peer):
                    hits_peer += 1
        table[family] = {
            "n": per_family,
            "chartcode": hits_ours,
            "peer": hits_peer if peer is not None else None,
            "chartcode_other_new_rules_when_missed": other_ours,
        }
    return table


# --- main --------------------------------------------------------------------------------------


def build_claims(kb: Path, n: int, seed_value: int) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    rng = random.Random(seed_value)
    conn = connect(kb)
    try:
        pools = Pools(conn, rng)
        claims = generate(pools, n, rng)
        material = pools.seeds(rng)
    finally:
        conn.close()
    return claims, material


def markdown(results: dict[str, Any]) -> str:
    ours, p = results["chartcode"], results.get("peer") or {}
    cold = results["cold_start_s"]

    def row(*cells: str) -> str:
        return "| " + " | ".join(cells) + " |"

    def ratio(a: float, b: float | None) -> str:
        return f"{a / b:.1f}×" if b else "—"

    rows = [
        row("measure", "chartcode", "target", "claim-validator 0.3.0", "ratio"),
        row("---", "---", "---", "---", "---"),
        row(
            "claim lines/s, one core, validated claims (steady)",
            f"**{ours['lines_per_s']:,.0f}**",
            "≥ 50,000",
            "—",
            "—",
        ),
        row(
            "claim lines/s, first pass (cold caches)", f"{ours['first_pass_lines_per_s']:,.0f}", "—", "—", "—"
        ),
        row(
            "claim lines/s from dictionaries (validation + check)",
            f"{ours['from_dicts_lines_per_s']:,.0f}",
            "—",
            f"{p.get('lines_per_s', 0):,.0f}",
            ratio(ours["from_dicts_lines_per_s"], p.get("lines_per_s")),
        ),
        row(
            "cold start (new process → first claim checked)",
            f"{cold['chartcode']:.2f} s",
            "≤ 1 s",
            f"{cold.get('peer') or 0:.2f} s",
            f"(bare python {cold['bare_python']:.2f} s)",
        ),
        row(
            "peak RSS of the throughput process",
            f"{ours['peak_mb']:.0f} MB",
            "≤ 500 MB",
            f"{p.get('peak_mb', 0):.0f} MB",
            "—",
        ),
        row(
            "RSS: first claim checked / all claims loaded / after every check",
            " / ".join(
                f"{ours['rss_mb'][k]:.0f}"
                for k in ("after_first_claim", "claims_in_memory", "after_all_checks")
            )
            + " MB",
            "—",
            "—",
            "—",
        ),
        row(
            f"claims with an error finding ({ours['claims']:,} unseeded)",
            f"{ours['claims_with_error_findings']:,}",
            "—",
            f"{p.get('claims_with_error_findings', 0):,}",
            "—",
        ),
        row("claims the tool rejects (cannot model)", "0", "—", f"{p.get('rejected_claims', 0):,}", "—"),
        "",
        row("seeded problem", "chartcode rule(s)", "chartcode", "claim-validator code(s)", "claim-validator"),
        row("---", "---", "---", "---", "---"),
    ]
    for family, found in results["detection"].items():
        if "skipped" in found:
            rows.append(row(FAMILY_TEXT[family], "—", f"skipped: {found['skipped']}", "—", "—"))
            continue
        peer_hits = "—" if found["peer"] is None else f"{found['peer']}/{found['n']}"
        rows.append(
            row(
                FAMILY_TEXT[family],
                ", ".join(sorted(CHARTCODE_RULES[family])) or "(none)",
                f"{found['chartcode']}/{found['n']}",
                ", ".join(sorted(PEER_CODES[family])) or "(none)",
                peer_hits,
            )
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument(
        "--kb", type=Path, required=True, help="knowledge base of the full mirror (opened read-only)"
    )
    ap.add_argument("--claims", type=int, default=20_000)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--per-family", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--output", type=Path, default=HERE / ".results" / "claims.json")
    ap.add_argument("--child")
    ap.add_argument("--which", default="chartcode")
    ap.add_argument("--claims-file", type=Path)
    args = ap.parse_args()
    if args.child:
        if args.child == "chartcode":
            out = child_chartcode(args.kb, args.claims_file, args.passes)
        elif args.child == "peer":
            out = child_peer(args.claims_file, args.passes)
        else:
            out = child_cold(args.kb, args.claims_file, args.which)
        print(json.dumps(out))
        return

    try:
        import claim_validator  # noqa: F401

        with_peer = True
    except ImportError:
        with_peer = False
        print("claim-validator is not installed: peer columns left out", file=sys.stderr)
    claims, material = build_claims(args.kb, args.claims, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        claims_path = Path(tmp) / "claims.jsonl"
        claims_path.write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
        common = ["--kb", str(args.kb), "--claims-file", str(claims_path), "--passes", str(args.passes)]
        results: dict[str, Any] = {"claims": len(claims), "lines": sum(len(c["lines"]) for c in claims)}
        results["chartcode"], _ = spawn(["--child", "chartcode", *common])
        if with_peer:
            results["peer"], _ = spawn(["--child", "peer", *common])
        results["cold_start_s"] = {
            "bare_python": bare_python(),
            "chartcode": cold_start(args.kb, claims_path, "chartcode"),
            "peer": cold_start(args.kb, claims_path, "peer") if with_peer else None,
        }
    if with_peer:
        results["ratio_from_dicts"] = (
            results["chartcode"]["from_dicts_lines_per_s"] / results["peer"]["lines_per_s"]
        )
    results["detection"] = detection(args.kb, claims, material, args.per_family, args.seed, with_peer)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print()
    print(markdown(results))


if __name__ == "__main__":
    main()
