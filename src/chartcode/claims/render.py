"""A CMS-1500-style HTML page for people: the claim's boxes by number, in chartcode's own layout.

It is a reading aid, not the red-ink form a payer scans: boxes 1–33 that a professional claim uses are
shown with their numbers, the 24 lines (dates, place of service, code and modifiers, diagnosis
pointers as letters A–L, charges, units, rendering NPI), the expected Medicare allowed amount per line
when pricing is given and the scrubber's findings. Every value is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from chartcode.claims.model import RELATIONSHIP_NAMES, Address, EncounterClaim

if TYPE_CHECKING:
    from chartcode.claims.pricing import ClaimPrice
    from chartcode.edits.registry import Finding

LETTERS = "ABCDEFGHIJKL"
INSURANCE_TYPE = {
    "medicare": "Medicare",
    "medicaid": "Medicaid",
    "tricare": "TRICARE",
    "commercial": "Group health plan",
    "workers_comp": "Other (workers' compensation)",
    "self_pay": "Other (self-pay)",
    "other": "Other",
}

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#111}
h1{font-size:1.2rem;margin:0 0 .6rem}
.grid{display:grid;grid-template-columns:repeat(2,1fr);border:2px solid #b00;max-width:64rem}
.box{border:1px solid #d88;padding:.3rem .45rem;min-height:2.4rem}
.box b{color:#b00;font-size:.72rem;display:block}
.wide{grid-column:1 / span 2}
table{border-collapse:collapse;max-width:64rem;width:100%;margin-top:.8rem}
th,td{border:1px solid #d88;padding:.25rem .4rem;font-size:.85rem;text-align:left}
th{color:#b00;font-weight:600}
td.n{text-align:right}
.findings li{margin:.2rem 0}
.error{color:#b00}.warning{color:#a60}
"""


def _addr(a: Address | None) -> str:
    if a is None:
        return ""
    zip_code = a.postal_code if len(a.postal_code) == 5 else f"{a.postal_code[:5]}-{a.postal_code[5:]}"
    street = ", ".join(x for x in (a.line1, a.line2) if x)
    return f"{escape(street)}<br>{escape(a.city)}, {escape(a.state)} {escape(zip_code)}"


def _box(number: str, label: str, value: str, wide: bool = False) -> str:
    cls = "box wide" if wide else "box"
    return f'<div class="{cls}"><b>{escape(number)} {escape(label)}</b>{value or "&nbsp;"}</div>'


def to_html(
    claim: EncounterClaim,
    *,
    pricing: ClaimPrice | None = None,
    findings: Sequence[Finding] = (),
) -> str:
    """The HTML page (one self-contained document with its own CSS)."""
    pt, sub, bp = claim.patient, claim.subscriber, claim.billing_provider
    rp = claim.rendering_provider
    patient_name = ", ".join(x for x in (pt.last_name, pt.first_name) if x)
    insured_name = ", ".join(x for x in (sub.last_name, sub.first_name) if x)
    boxes = [
        _box("1", "Insurance type", escape(INSURANCE_TYPE[claim.payer.type])),
        _box("1a", "Insured's ID number", escape(sub.member_id)),
        _box("2", "Patient's name", escape(patient_name)),
        _box(
            "3",
            "Patient's birth date, sex",
            escape(f"{pt.birth_date.isoformat() if pt.birth_date else ''}  {pt.sex or ''}"),
        ),
        _box("4", "Insured's name", escape(insured_name)),
        _box("5", "Patient's address", _addr(pt.address)),
        _box("6", "Patient relationship to insured", escape(RELATIONSHIP_NAMES.get(pt.relationship, ""))),
        _box("7", "Insured's address", _addr(sub.address)),
        _box("11", "Insured's group number", escape(sub.group_number or "")),
        _box(
            "11c",
            "Insurance plan name (payer)",
            escape(f"{claim.payer.name} (payer id {claim.payer.id})") + "<br>" + _addr(claim.payer.address),
        ),
        _box(
            "21",
            "Diagnosis (ICD Ind. 0: ICD-10-CM)",
            "&nbsp; ".join(f"{LETTERS[i]}. {escape(code)}" for i, code in enumerate(claim.diagnoses)),
            wide=True,
        ),
        _box(
            "22",
            "Resubmission code / original ref.",
            escape(
                f"{claim.frequency_code} {claim.original_claim_number or ''}"
                if claim.frequency_code != "1"
                else ""
            ),
        ),
        _box("23", "Prior authorization number", escape(claim.prior_authorization or "")),
    ]
    prices = {p.line: p for p in pricing.lines} if pricing is not None else {}
    rows = []
    for i, line in enumerate(claim.lines):
        price = prices.get(i + 1)
        allowed = "" if price is None or price.allowed is None else f"{price.allowed:.2f}"
        rows.append(
            "<tr>"
            f"<td>{claim.line_date(i).strftime('%m/%d/%Y')}</td>"
            f"<td>{escape(claim.line_pos(i) or '')}</td>"
            f"<td>{escape(line.code)}</td>"
            f"<td>{escape(' '.join(line.modifiers))}</td>"
            f"<td>{escape(''.join(LETTERS[p - 1] for p in line.dx_pointers))}</td>"
            f'<td class="n">{"" if line.charge is None else f"{line.charge:.2f}"}</td>'
            f'<td class="n">{escape(format(line.units.normalize(), "f"))}</td>'
            f"<td>{escape(rp.npi if rp else bp.npi)}</td>"
            + (f'<td class="n">{allowed}</td>' if pricing is not None else "")
            + "</tr>"
        )
    head = (
        "<tr><th>24A Date(s) of service</th><th>24B Place of service</th><th>24D CPT/HCPCS</th>"
        "<th>24D Modifier</th><th>24E Diagnosis pointer</th><th>24F Charges ($)</th><th>24G Units</th>"
        "<th>24J Rendering NPI</th>"
        + ("<th>Expected allowed ($)</th>" if pricing is not None else "")
        + "</tr>"
    )
    total = sum(float(line.charge or 0) for line in claim.lines)
    footer = [
        _box("25", f"Federal tax ID ({bp.tax_id_type})", escape(bp.tax_id or "")),
        _box("26", "Patient's account no.", escape(claim.id)),
        _box("28", "Total charge ($)", f"{total:.2f}"),
        _box(
            "—",
            "Expected Medicare allowed ($, not a form box)",
            ""
            if pricing is None
            else f"{pricing.total_allowed:.2f} (locality {escape(str(pricing.locality['name']))})",
        ),
        _box(
            "31",
            "Rendering provider",
            ""
            if rp is None
            else escape(rp.display_name) + (f" — taxonomy {escape(rp.taxonomy)}" if rp.taxonomy else ""),
        ),
        _box(
            "33",
            "Billing provider info",
            escape(bp.display_name) + "<br>" + _addr(bp.address),
        ),
        _box("33a", "Billing NPI", escape(bp.npi)),
        _box("33b", "Billing taxonomy (ZZ)", escape(bp.taxonomy or "")),
    ]
    items = "".join(
        f'<li class="{escape(f.severity)}"><b>{escape(f.rule)}</b> ({escape(f.severity)}): '
        f"{escape(f.message)} — fix: {escape(f.fix)}</li>"
        for f in findings
    )
    checked = (
        f'<ul class="findings">{items}</ul>' if findings else "<p>The scrubber found nothing to correct.</p>"
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>Claim {escape(claim.id)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>Health insurance claim (CMS-1500 layout) — claim {escape(claim.id)}</h1>\n"
        f'<div class="grid">{"".join(boxes)}</div>\n'
        f"<table>{head}{''.join(rows)}</table>\n"
        f'<div class="grid">{"".join(footer)}</div>\n'
        f"<h2>Scrubber findings</h2>{checked}\n"
        "</body></html>\n"
    )


__all__ = ["to_html"]
