"""The pure helpers behind the claim edits (no knowledge base needed)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chartcode.codesets import icd10cm
from chartcode.codesets.procedures import PtpEdit
from chartcode.edits.rules._support import (
    covers_any,
    description_side,
    edit_in_force,
    group_notes,
    is_em,
    plain_targets,
    units_text,
    valid_on,
)
from chartcode.edits.rules.claimform import line_sides
from chartcode.edits.rules.ncci import NCCI_MODIFIERS, bypassed


@pytest.mark.parametrize(
    ("title", "sides"),
    [
        ("Unilateral primary osteoarthritis, left knee", {"L"}),
        ("Pain in right knee", {"R"}),
        ("Bilateral primary osteoarthritis of knee", {"R", "L"}),
        ("Primary open-angle glaucoma, bilateral, mild stage", {"R", "L"}),
        ("Hemiplegia and hemiparesis following cerebral infarction affecting left non-dominant side", {"L"}),
        ("Right lower quadrant pain", {"R"}),
        ("Left ventricular failure, unspecified", set()),
        ("Right bundle-branch block, unspecified", set()),
        ("Right heart failure, unspecified", set()),
        ("Atherosclerotic heart disease of native coronary artery", set()),
        ("Cleft palate with bilateral cleft lip", {"R", "L"}),
        ("Cleft lip, unilateral", set()),  # "cleft" is not "left"
        (None, set()),
    ],
)
def test_description_side(title: str | None, sides: set[str]) -> None:
    assert description_side(title) == frozenset(sides)


@pytest.mark.parametrize(
    ("mods", "sides"),
    [
        ((), set()),
        (("25",), set()),
        (("RT",), {"R"}),
        (("LT", "59"), {"L"}),
        (("50",), {"R", "L"}),
        (("RT", "LT"), {"R", "L"}),
        (("F5",), {"R"}),  # right hand, thumb
        (("FA",), {"L"}),  # left hand, thumb
        (("T5",), {"R"}),  # right foot, great toe
        (("TA",), {"L"}),  # left foot, great toe
        (("E1",), {"L"}),  # upper left eyelid
        (("E4",), {"R"}),  # lower right eyelid
        (("LC",), set()),  # a coronary artery, not a side
    ],
)
def test_line_sides(mods: tuple[str, ...], sides: set[str]) -> None:
    assert line_sides(mods) == frozenset(sides)


def test_ncci_associated_modifiers_are_the_policy_manual_list() -> None:
    anatomic = {"E1", "E2", "E3", "E4", "FA", "TA", "LT", "RT", "LC", "LD", "RC", "LM", "RI"}
    anatomic |= {f"F{i}" for i in range(1, 10)} | {f"T{i}" for i in range(1, 10)}
    global_surgery = {"24", "25", "57", "58", "78", "79"}
    other = {"27", "59", "91", "XE", "XS", "XP", "XU"}
    assert anatomic | global_surgery | other == NCCI_MODIFIERS


@pytest.mark.parametrize(
    ("a", "b", "em_a", "em_b", "expected"),
    [
        ((), (), False, False, False),
        (("XU",), (), False, False, True),
        ((), ("91",), False, False, True),
        (("25",), (), True, False, True),  # 25 on the E/M line
        (("25",), (), False, True, False),  # 25 on the procedure line does not count
        ((), ("57",), False, True, True),
        (("F1",), ("F2",), False, False, True),
        (("F1",), ("F1",), False, False, False),
        (("RT",), (), False, False, False),
        (("26",), ("TC",), False, False, False),  # not NCCI-associated
    ],
)
def test_bypassed(a: tuple[str, ...], b: tuple[str, ...], em_a: bool, em_b: bool, expected: bool) -> None:
    assert bypassed(a, b, em_a, em_b) is expected


def _ptp(deletion: date | None, indicator: int) -> PtpEdit:
    return PtpEdit("11042", "11720", None, deletion, indicator, None, False)


def test_edit_in_force_picks_the_version_of_the_date() -> None:
    old, current = _ptp(date(2019, 12, 31), 0), _ptp(None, 1)
    assert edit_in_force([old, current], date(2024, 8, 15)) is current
    assert edit_in_force([old, current], date(2019, 6, 1)) is old  # deleted later: it was in force then
    assert edit_in_force([_ptp(date(2020, 1, 1), 1)], date(2024, 8, 15)) is None
    assert edit_in_force([_ptp(None, 9)], date(2024, 8, 15)) is None  # indicator 9: never applied


def test_group_notes_joins_a_lead_with_its_items() -> None:
    notes = [
        ("any associated:", (), "N18"),
        (
            "diabetic chronic kidney disease (E08.22, E11.22)",
            (("E08.22", "E08.22"), ("E11.22", "E11.22")),
            "N18",
        ),
        ("hypertensive chronic kidney disease (I12.-, I13.-)", (("I12", "I12"), ("I13", "I13")), "N18"),
        ("underlying disease, such as:", (), "chapter:14"),
        ("amyloidosis (E85.-)", (("E85", "E85"),), "chapter:14"),
        ("heart failure due to hypertension (I11.0)", (("I11.0", "I11.0"),), "I50"),
        ("rheumatic heart failure (I09.81)", (("I09.81", "I09.81"),), "I50"),
    ]
    groups = group_notes(notes)
    assert [(g.source, g.lead, len(g.items)) for g in groups] == [
        ("N18", "any associated:", 2),
        ("chapter:14", "underlying disease, such as:", 1),
        ("I50", None, 2),  # notes written together at one code are alternatives
    ]
    assert groups[0].conditional and not groups[0].examples
    assert groups[1].examples and not groups[1].conditional
    assert len(groups[0].targets) == 4 and groups[0].text.startswith("any associated: diabetic")


_codes = st.from_regex(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", fullmatch=True)


@given(_codes, _codes, _codes)
def test_covers_any_agrees_with_icd10cm_covers(low: str, high: str, code: str) -> None:
    expected = icd10cm.covers((low, high), code)
    assert covers_any(plain_targets([(low, high)]), code.replace(".", "")) is expected


def test_small_helpers() -> None:
    assert units_text(Decimal("3.0")) == "3" and units_text(Decimal("1.5")) == "1.5"
    assert is_em("99213") and is_em("99499") and not is_em("99201") and not is_em("9921A")
    spans = ((date(2019, 7, 1), date(2020, 12, 31)), (date(2022, 1, 1), None))
    assert valid_on(spans, date(2020, 12, 31)) and not valid_on(spans, date(2021, 6, 1))
    assert valid_on(spans, date(2030, 1, 1)) and not valid_on((), date(2024, 1, 1))
