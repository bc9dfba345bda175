"""Build small, valid 5010 835 remittances (005010X221A1) for claims the API exported.

Synthetic: test payer, test clinic, a made-up patient. Amounts balance (charge − adjustments = paid) unless
a test chooses otherwise; SE01 counts the segments from ST to SE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

Adj = tuple[str, str, str]  # group, CARC, amount
ISA = (  # 106 characters with its terminator: every element padded to its fixed width
    "ISA*00*          *00*          *ZZ*TESTPAYER01    *ZZ*TESTCLINIC01   "
    "*260206*1200*^*00501*000000911*0*T*:"
)


@dataclass(frozen=True)
class Svc:
    code: str
    charge: str
    paid: str
    modifiers: tuple[str, ...] = ()
    units: int = 1
    adjustments: tuple[Adj, ...] = ()
    remarks: tuple[str, ...] = ()
    day: date | None = None


@dataclass(frozen=True)
class Clp:
    claim_id: str
    status: str  # CLP02: 1 processed as primary, 4 denied, 22 reversal
    services: tuple[Svc, ...] = ()
    adjustments: tuple[Adj, ...] = ()
    charge: str | None = None  # default: the services' charges
    frequency: str = "1"
    control: str = "PCN1"
    day: date = date(2026, 1, 5)


@dataclass(frozen=True)
class Payment:
    claims: Sequence[Clp]
    trace: str = "TRC9001"
    payer_id: str = "1512345678"  # TRN03
    paid_on: date = date(2026, 2, 6)
    extra_segments: tuple[str, ...] = field(default=())


def _d8(day: date) -> str:
    return day.strftime("%Y%m%d")


def _n(value: Decimal) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _cas(adjustments: Sequence[Adj]) -> list[str]:
    return [f"CAS*{g}*{r}*{a}" for g, r, a in adjustments]


def build_835(payment: Payment) -> str:
    body: list[str] = []
    total = Decimal(0)
    for number, c in enumerate(payment.claims, start=1):
        charge = (
            Decimal(c.charge)
            if c.charge is not None
            else sum((Decimal(s.charge) for s in c.services), Decimal(0))
        )
        paid = sum((Decimal(s.paid) for s in c.services), Decimal(0))
        pr = sum(
            (Decimal(a) for s in c.services for g, _, a in s.adjustments if g == "PR"), Decimal(0)
        ) + sum((Decimal(a) for g, _, a in c.adjustments if g == "PR"), Decimal(0))
        total += paid
        amounts = f"{_n(charge)}*{_n(paid)}*{_n(pr) if pr else ''}"
        body.append(f"CLP*{c.claim_id}*{c.status}*{amounts}*12*{c.control}{number}*11*{c.frequency}")
        body.extend(_cas(c.adjustments))
        body.append("NM1*QC*1*PATIENT*TEST****MI*M000001")
        for s in c.services:
            procedure = ":".join(("HC", s.code, *s.modifiers))
            units = f"**{s.units}" if s.units != 1 else ""
            body.append(f"SVC*{procedure}*{s.charge}*{s.paid}{units}")
            body.append(f"DTM*472*{_d8(s.day or c.day)}")
            body.extend(_cas(s.adjustments))
            body.extend(f"LQ*HE*{r}" for r in s.remarks)
    header = [
        "ST*835*0001",
        f"BPR*I*{_n(total)}*C*CHK************{_d8(payment.paid_on)}",
        f"TRN*1*{payment.trace}*{payment.payer_id}",
        f"DTM*405*{_d8(payment.paid_on)}",
        "N1*PR*TEST HEALTH PLAN",
        "N3*PO BOX 1000",
        "N4*ANYTOWN*PA*174320000",
        "REF*2U*99999",
        "PER*BL*EDI SUPPORT*TE*5555550199",
        "N1*PE*TEST FAMILY CLINIC*XX*1234567893",
        "N3*100 MAIN STREET",
        "N4*ANYTOWN*PA*174320000",
        "REF*TJ*123456789",
        "LX*1",
    ]
    transaction = [*header, *body, *payment.extra_segments]
    transaction.append(f"SE*{len(transaction) + 1}*0001")
    segments = [
        ISA,
        "GS*HP*TESTPAYER01*TESTCLINIC01*20260206*1200*911*X*005010X221A1",
        *transaction,
        "GE*1*911",
        "IEA*1*000000911",
    ]
    return "~\n".join(segments) + "~\n"


def denial_payment(claim: dict[str, Any], *, trace: str = "TRC9001") -> Payment:
    """A payment for an exported claim: the first line paid (CO-45 write-off), every other line denied:
    a bundling denial (CO-97 with M15) for the second, an invalid-code denial (CO-16 with M51) for the
    rest."""
    day = date.fromisoformat(claim["date_of_service"])
    services = []
    for index, line in enumerate(claim["lines"]):
        mods = tuple(line.get("modifiers", []))
        units = int(line.get("units", 1))
        if index == 0:
            services.append(Svc(line["code"], "120", "80", mods, units, (("CO", "45", "40"),), day=day))
        elif index == 1:
            services.append(Svc(line["code"], "150", "0", mods, units, (("CO", "97", "150"),), ("M15",), day))
        else:
            services.append(Svc(line["code"], "60", "0", mods, units, (("CO", "16", "60"),), ("M51",), day))
    return Payment([Clp(claim["id"], "1", tuple(services), day=day)], trace=trace)
