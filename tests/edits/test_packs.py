"""Payer rule packs: the YAML schema, errors with line and column, and what each kind of rule finds."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from chartcode.edits.io import parse_claim
from chartcode.edits.model import Claim
from chartcode.edits.packs import (
    CodeMatcher,
    PackError,
    PayerPack,
    apply_packs,
    load_pack,
    load_packs,
    parse_pack,
)
from chartcode.edits.registry import Finding

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payer_pack.yaml"


def claim(lines: list[dict[str, Any]], **extra: Any) -> Claim:
    data: dict[str, Any] = {
        "id": "C1",
        "payer": {"id": "ACME01", "type": "commercial", "name": "ACME Health"},
        "date_of_service": "2024-08-01",
        "place_of_service": "11",
        "diagnoses": ["E11.9"],
        "lines": lines,
    }
    return parse_claim(data | extra)


def pack(body: str) -> PayerPack:
    return parse_pack(textwrap.dedent(body), "pack.yaml")


def rules_of(findings: list[Finding]) -> list[tuple[str, tuple[int, ...], tuple[str, ...]]]:
    return [(f.rule, f.lines, f.codes) for f in findings]


# --- the example pack ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> PayerPack:
    return load_pack(EXAMPLE)


def test_example_pack_loads(example: PayerPack) -> None:
    assert example.name == "acme-health-plan"
    assert example.rule_ids == (
        "PAYER-TELEHEALTH-MODIFIER",
        "PAYER-TRIAMCINOLONE-UNITS",
        "PAYER-ANNUAL-WELLNESS",
        "PAYER-PRIOR-AUTH-IMAGING",
        "PAYER-PRIMARY-DX",
        "PAYER-NOT-COVERED-COSMETIC",
        "PAYER-VITAMIN-D-DX",
    )


def test_example_pack_on_a_claim_with_one_problem_of_each_kind(example: PayerPack) -> None:
    c = claim(
        [
            {"code": "99213", "place_of_service": "02"},
            {"code": "J3301", "units": 6},
            {"code": "J3301", "units": 4},
            {"code": "82306", "dx_pointers": [1]},
            {"code": "99391"},
            {"code": "99396"},
            {"code": "70553"},
            {"code": "17380"},
        ],
        diagnoses=["Z02.1", "E55.9"],
    )
    findings = apply_packs(c, [example])
    assert rules_of(findings) == [
        ("PAYER-TELEHEALTH-MODIFIER", (1,), ("99213",)),
        ("PAYER-TRIAMCINOLONE-UNITS", (2, 3), ("J3301",)),
        ("PAYER-ANNUAL-WELLNESS", (5, 6), ("99391", "99396")),
        ("PAYER-PRIOR-AUTH-IMAGING", (7,), ("70553",)),
        ("PAYER-PRIMARY-DX", (), ("Z02.1",)),
        ("PAYER-NOT-COVERED-COSMETIC", (8,), ("17380",)),
        ("PAYER-VITAMIN-D-DX", (4,), ("82306",)),
    ]
    by_rule = {f.rule: f for f in findings}
    tele = by_rule["PAYER-TELEHEALTH-MODIFIER"]
    assert tele.severity == "error"
    assert (
        tele.message == "Telehealth line 1 (99213, place of service 02) has none of the modifiers 95 or GT."
    )
    assert tele.fix == "Add modifier 95 (synchronous audio-video) to line 1; ACME still accepts GT."
    assert tele.citation == "ACME Telehealth Reimbursement Policy RP-114 (example), section 3"
    units = by_rule["PAYER-TRIAMCINOLONE-UNITS"]
    assert units.message == "J3301: 10 units billed on 2024-08-01; ACME pays at most 8 units per day."
    # no fix in the YAML: the kind's default, with the placeholders filled
    assert units.fix == (
        "Keep J3301 within ACME Health's limit (units per day: 8), or send the documentation the payer asks "
        "for to exceed it."
    )
    assert by_rule["PAYER-ANNUAL-WELLNESS"].message == (
        "2 preventive visits on one claim (lines 5, 6); ACME covers one per year."
    )
    assert by_rule["PAYER-ANNUAL-WELLNESS"].severity == "warning"
    assert by_rule["PAYER-PRIOR-AUTH-IMAGING"].fix == (
        "Obtain prior authorization from ACME Health for 70553 before the service (or retroactively if the "
        "payer allows) and attach the authorization number to the claim (837P loop 2300 REF*G1)."
    )
    assert by_rule["PAYER-PRIMARY-DX"].message == (
        "Z02.1 is not accepted by ACME Health as the first-listed diagnosis."
    )
    assert by_rule["PAYER-VITAMIN-D-DX"].fix == (
        "Point line 4 to a diagnosis ACME Health accepts for 82306 (E55.*, M81.*, N18.*, K90.0, E21.*) if it "
        "is documented."
    )
    assert by_rule["PAYER-VITAMIN-D-DX"].to_dict()["lines"] == [4]


def test_example_pack_passes_a_clean_claim_and_ignores_other_payers(example: PayerPack) -> None:
    clean = claim(
        [
            {"code": "99213", "place_of_service": "02", "modifiers": ["95"]},
            {"code": "J3301", "units": 8},
            {"code": "82306", "dx_pointers": [2]},
            {"code": "99396"},
        ],
        diagnoses=["E11.9", "E55.9"],
    )
    assert apply_packs(clean, [example]) == []
    other = claim([{"code": "17380"}, {"code": "70553"}], payer={"id": "12202", "type": "medicare"})
    assert apply_packs(other, [example]) == []


# --- rule behaviours -------------------------------------------------------------------------

HEADER = """\
pack: test
rules:
"""


def one_rule(body: str) -> PayerPack:
    return pack(HEADER + textwrap.indent(textwrap.dedent(body), "  "))


def test_modifier_required_by_place_of_service_only() -> None:
    p = one_rule(
        """\
        - id: tele
          kind: modifier_required
          when: {place_of_service: [02, "10"]}
          modifiers: [95, GT]
          message: "line {line}: {code} at {pos} needs {required}; has {modifiers}"
          citation: policy 1
        """
    )
    c = claim(
        [
            {"code": "99213", "place_of_service": "10"},
            {"code": "99214", "place_of_service": "02", "modifiers": ["GT"]},
            {"code": "90834"},
            {"code": "90837", "place_of_service": "02", "modifiers": ["25"]},
        ]
    )
    findings = apply_packs(c, [p])
    # unquoted 02 stays "02": every scalar is read as text
    assert [(f.rule, f.lines, f.message) for f in findings] == [
        ("PAYER-TELE", (1,), "line 1: 99213 at 10 needs 95 or GT; has none"),
        ("PAYER-TELE", (4,), "line 4: 90837 at 02 needs 95 or GT; has 25"),
    ]
    assert (
        findings[0].fix
        == "Add modifier 95 or GT to line 1 if the service was furnished as the modifier states."
    )


@pytest.mark.parametrize(
    ("limit", "lines", "expected"),
    [
        # per day, each code on its own: 2024-08-01 has 3 units of 96372, 2024-08-02 has 1
        (
            ["max_units: 2", "per: day"],
            [
                {"code": "96372", "units": 2},
                {"code": "96372"},
                {"code": "96372", "date_of_service": "2024-08-02"},
            ],
            [((1, 2), ("96372",), "3 units > 2 per day on 2024-08-01")],
        ),
        # per claim counts all dates
        (
            ["max_units: 3", "per: claim"],
            [
                {"code": "96372", "units": 2},
                {"code": "96372"},
                {"code": "96372", "date_of_service": "2024-08-02"},
            ],
            [((1, 2, 3), ("96372",), "4 units > 3 per claim on ")],
        ),
        # lines, not units; decimals
        (
            ["max_lines: 1"],
            [
                {"code": "96372", "units": 0.5},
                {"code": "96373", "units": 1.25},
                {"code": "96372", "units": 3},
            ],
            [((1, 3), ("96372",), "2 lines > 1 per day on 2024-08-01")],
        ),
        (
            ["max_units: 1.5"],
            [{"code": "96372", "units": 0.5}, {"code": "96373", "units": 1.25}],
            [],
        ),
        # combined: the listed codes counted together
        (
            ["max_units: 1.5", "combined: true"],
            [{"code": "96372", "units": 0.5}, {"code": "96373", "units": 1.25}],
            [((1, 2), ("96372", "96373"), "1.75 units > 1.5 per day on 2024-08-01")],
        ),
    ],
)
def test_frequency_limit(limit: list[str], lines: list[dict[str, Any]], expected: list[Any]) -> None:
    text = "\n".join(
        [
            "pack: test",
            "rules:",
            "  - id: freq",
            "    kind: frequency_limit",
            '    when: {codes: ["96372-96374"]}',
            *(f"    {item}" for item in limit),
            '    message: "{count} {unit} > {limit} per {per} on {date}"',
            "    citation: c",
        ]
    )
    findings = apply_packs(claim(lines), [parse_pack(text, "pack.yaml")])
    assert [(f.lines, f.codes, f.message) for f in findings] == expected


def test_prior_auth_not_covered_and_effective_dates() -> None:
    p = one_rule(
        """\
        - id: pa
          kind: prior_auth
          severity: warning
          when: {codes: ["J9*"]}
          effective_from: 2024-08-01
          message: "{code} needs authorization ({date})"
          citation: PA list
        - id: nc
          kind: not_covered
          severity: info
          when: {codes: ["15780-15787"]}
          effective_to: 2024-07-31
          message: "{code} not covered"
          fix: "drop line {line}"
          citation: CP-1
        """
    )
    c = claim(
        [
            {"code": "J9035", "date_of_service": "2024-07-31"},
            {"code": "J9271"},
            {"code": "15781", "date_of_service": "2024-07-31"},
            {"code": "15782"},
        ]
    )
    findings = apply_packs(c, [p])
    assert [(f.rule, f.severity, f.lines, f.message, f.fix) for f in findings] == [
        (
            "PAYER-PA",
            "warning",
            (2,),
            "J9271 needs authorization (2024-08-01)",
            "Obtain prior authorization from ACME Health for J9271 before the service (or retroactively if "
            "the "
            "payer allows) and attach the authorization number to the claim (837P loop 2300 REF*G1).",
        ),
        ("PAYER-NC", "info", (3,), "15781 not covered", "drop line 3"),
    ]


def test_primary_dx_and_claim_selectors() -> None:
    p = one_rule(
        """\
        - id: primary
          kind: primary_dx_not_allowed
          diagnoses: ["Z02.*", R69]
          when: {codes: ["99202-99215"]}
          message: "{diagnosis} first ({date})"
          citation: guide
        - id: only-with-ckd
          kind: prior_auth
          when: {codes: [J3301], diagnoses: ["N18.*"]}
          message: "{code}"
          citation: c
        """
    )
    findings = apply_packs(claim([{"code": "99213"}, {"code": "J3301"}], diagnoses=["R69", "N1831"]), [p])
    assert [(f.rule, f.lines, f.codes, f.message) for f in findings] == [
        ("PAYER-PRIMARY", (), ("R69",), "R69 first (2024-08-01)"),
        ("PAYER-ONLY-WITH-CKD", (2,), ("J3301",), "J3301"),
    ]
    # secondary position is fine; no E/M on the claim: the primary rule is not selected
    assert apply_packs(claim([{"code": "99213"}], diagnoses=["E11.9", "R69"]), [p]) == []
    assert apply_packs(claim([{"code": "J3301"}], diagnoses=["Z02.1"]), [p]) == []


def test_diagnosis_required_follows_pointers() -> None:
    p = one_rule(
        """\
        - id: vitd
          kind: diagnosis_required
          when: {codes: ["82306"]}
          diagnoses: ["E55.*"]
          message: "{code} line {line} not for {diagnoses}"
          citation: LAB
        """
    )
    c = claim(
        [{"code": "82306", "dx_pointers": [1]}, {"code": "82306", "dx_pointers": [2]}, {"code": "82306"}],
        diagnoses=["E11.9", "E55.9"],
    )
    findings = apply_packs(c, [p])
    # line 3 has no pointers: the claim's diagnoses count, and E55.9 is among them
    assert [(f.lines, f.message) for f in findings] == [((1,), "82306 line 1 not for E55.*")]


def test_applies_to_rule_overrides_pack_and_types_match() -> None:
    p = pack(
        """\
        pack: scoped
        applies_to: {payer_ids: [ACME01]}
        rules:
          - id: pack-scope
            kind: not_covered
            when: {codes: ["17380"]}
            message: m
            citation: c
          - id: medicare-only
            kind: not_covered
            applies_to: {payer_types: [medicare]}
            when: {codes: ["17380"]}
            message: m
            citation: c
        """
    )
    line = [{"code": "17380"}]
    assert [f.rule for f in apply_packs(claim(line), [p])] == ["PAYER-PACK-SCOPE"]
    medicare = claim(line, payer={"id": "12202", "type": "medicare"})
    assert [f.rule for f in apply_packs(medicare, [p])] == ["PAYER-MEDICARE-ONLY"]


@pytest.mark.parametrize(
    ("patterns", "code", "hit"),
    [
        (["99213"], "99213", True),
        (["99213"], "99214", False),
        (["99202-99215"], "99215", True),
        (["99202-99215"], "99201", False),
        (["99202-99215"], "9921F", False),
        (["J9*"], "j9035", True),
        (["E11.*"], "E1122", True),
        (["E11.*"], "E10.9", False),
        (["S00-T88"], "S72.001A", True),
        (["S00-T88"], "T88.7XXA", True),
        (["S00-T88"], "V00.01XA", False),
        (["E11.22"], "E1122", True),
    ],
)
def test_code_patterns(patterns: list[str], code: str, hit: bool) -> None:
    assert CodeMatcher(patterns).matches(code) is hit


# --- errors point into the YAML --------------------------------------------------------------

FIX = "correct the pack at the place named (the format is shown in examples/payer_pack.yaml)."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            """\
            pack: p
            rules:
              - id: A
                kind: prior_auth
                message: m
                citation: c
                when:
                  codes: ["99213", "9-"]
            """,
            "pack.yaml, line 8, column 24: rules[0].when.codes[1]: '9-' is not a code range such as "
            "99202-99215.",
        ),
        (
            """\
            pack: p
            rules:
              - id: A
                kind: prior_auth
                message: "{code} and {limit}"
                citation: c
                when: {codes: [J9035]}
            """,
            "pack.yaml, line 5, column 5: rules[0].message: unknown placeholder {limit}; this kind of rule "
            "offers "
            "{code}, {date}, {line}, {modifiers}, {payer}, {payer_id}, {pos}, {rule}.",
        ),
        (
            """\
            pack: p
            rules:
              - id: A
                kind: prior_auth
                message: m
                citation: c
                when: {codes: [J9035]}
              - id: B
                kind: frequency_limit
                severity: fatal
                message: m
                when: {codes: [J9035]}
                max_units: lots
            """,
            "pack.yaml, line 10, column 5: rules[1].severity: Input should be 'error', 'warning' or 'info'; "
            "line 8, column 5: rules[1].citation: required key missing; line 13, column 5: "
            "rules[1].max_units: "
            "Input should be a valid decimal.",
        ),
        (
            """\
            pack: p
            rules:
              - id: A
                kind: frequency_limit
                message: m
                citation: c
                when: {codes: [J9035]}
            """,
            "pack.yaml, line 3, column 5: rules[0]: a frequency_limit rule needs exactly one of max_units "
            "and "
            "max_lines.",
        ),
        (
            """\
            pack: p
            rules:
              - id: A
                kind: frequency_limit
                message: m
                citation: c
                max_lines: 2
            """,
            "pack.yaml, line 3, column 5: rules[0].when: required key missing.",
        ),
        (
            """\
            pack: p
            rules:
              - id: A
                kind: modifier_required
                message: m
                citation: c
                modifiers: [95]
                when: {place_of_service: [2]}
            """,
            "pack.yaml, line 8, column 31: rules[0].when.place_of_service[0]: '2' is not a two-digit "
            'place-of-service code (write it in quotes: "02").',
        ),
        (
            """\
            pack: p
            rules:
              - id: A
                kind: telepathy
                message: m
            """,
            "pack.yaml, line 4, column 5: rules[0].kind: unknown kind 'telepathy'; it is one of "
            "modifier_required, "
            "frequency_limit, prior_auth, primary_dx_not_allowed, not_covered, diagnosis_required.",
        ),
        (
            """\
            pack: p
            rules:
              - id: A
                message: m
            """,
            "pack.yaml, line 3, column 5: rules[0]: kind is missing; it is one of modifier_required, "
            "frequency_limit, prior_auth, primary_dx_not_allowed, not_covered, diagnosis_required.",
        ),
        (
            """\
            pack: p
            rules:
              - id: A
                kind: not_covered
                message: m
                citation: c
                when: {codes: [J9035], modifier: [25]}
            """,
            "pack.yaml, line 7, column 28: rules[0].when.modifier: unknown key.",
        ),
        (
            """\
            pack: p
            rules:
              - id: A
                kind: not_covered
                message: m
                citation: c
                when: {codes: [J9035]}
                effective_from: 2024-10-01
                effective_to: 2024-09-30
            """,
            "pack.yaml, line 3, column 5: rules[0]: effective_to is before effective_from.",
        ),
        (
            """\
            pack: p
            rules: []
            """,
            "pack.yaml, line 2, column 1: rules: needs at least 1 item(s).",
        ),
        (
            """\
            pack: p
            rules:
              - id: A
                kind: not_covered
                message: m
                citation: c
                when: {codes: [J9035]}
              - id: a
                kind: not_covered
                message: m
                citation: c
                when: {codes: [J9036]}
            """,
            "pack.yaml, line 8, column 5: rules[1].id: A is already the id of rules[0].",
        ),
        ("pack: p\npack: q\n", "pack.yaml, line 2, column 1: pack: duplicate key."),
        (
            "pack: p\nrules: [\n",
            "pack.yaml, line 3, column 1: YAML syntax: expected the node content, but found '<stream end>'.",
        ),
        ("- pack\n", "pack.yaml: a pack is a YAML mapping with pack: and rules:."),
        ("\n# nothing\n", "pack.yaml is empty."),
    ],
    ids=[
        "bad-range",
        "placeholder",
        "severity-missing-decimal",
        "no-limit",
        "no-when",
        "pos-int",
        "unknown-kind",
        "no-kind",
        "unknown-key",
        "dates",
        "no-rules",
        "duplicate-id",
        "duplicate-key",
        "syntax",
        "not-mapping",
        "empty",
    ],
)
def test_pack_errors_name_line_and_column(text: str, message: str) -> None:
    with pytest.raises(PackError) as err:
        pack(text)
    assert err.value.message == message
    assert err.value.code == "CC153"


def test_pack_files(tmp_path: Path) -> None:
    with pytest.raises(PackError) as err:
        load_pack(tmp_path / "none.yaml")
    assert err.value.message == f"payer pack {tmp_path / 'none.yaml'} does not exist."
    twin = tmp_path / "twin.yaml"
    twin.write_text(EXAMPLE.read_text().replace("pack: acme-health-plan", "pack: twin"))
    with pytest.raises(PackError) as err:
        load_packs([EXAMPLE, twin])
    assert err.value.message == f"rule PAYER-TELEHEALTH-MODIFIER is defined in both {EXAMPLE} and {twin}."
    loaded = load_pack(EXAMPLE)
    assert load_packs([loaded]) == (loaded,)
