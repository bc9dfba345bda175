"""Code validity: every diagnosis and line code must be valid on its date of service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from chartcode.edits.model import Claim
from chartcode.edits.registry import EditContext, Finding, Rule, rule
from chartcode.edits.rules._support import (
    SYSTEM_NAMES,
    claim_view,
    days_text,
    dx_valid_on,
    proc_spans,
    proc_valid_on,
    sample,
    span_text,
)

INVALID_CITATION = (
    "45 CFR §162.1000(a) (HIPAA: report the code sets valid at the time the service is furnished); "
    "ICD-10-CM Official Guidelines I.B.2"
)
ARTICLE = {"icd10cm": "an", "cpt": "a", "hcpcs": "a"}
HEADER_CITATION = (
    "ICD-10-CM Official Guidelines I.B.2 and IV.F.2 (a code is invalid unless coded to the full number "
    "of characters required)"
)


def invalid_text(
    code: str, system: str, spans: tuple[tuple[date, date | None], ...], day: date, children: tuple[str, ...]
) -> tuple[str, str]:
    """Message and fix for a code that is not valid on ``day``."""
    name = SYSTEM_NAMES[system]
    lookup = f"`chartcode lookup {code} --date {day.isoformat()}`"
    if not spans:
        return (
            f"{code} is not {ARTICLE[system]} {name} code: no installed release lists it, so it was never "
            "valid",
            "check the code for typos (letter O versus digit 0, I versus 1) or find the right code with "
            "`chartcode search`",
        )
    first = spans[0][0]
    last = spans[-1][1]
    if day < first:
        message = (
            f"{code} was not yet valid on {day.isoformat()}: it took effect {first.isoformat()} "
            f"(valid {span_text(spans)})"
        )
        fix = f"use the {name} code in force on {day.isoformat()} (the code this one replaced)"
    elif last is not None and day > last:
        message = f"{code} was deleted: it was valid through {last.isoformat()}, not on {day.isoformat()}"
        fix = f"use the {name} code that replaced it on the date of service"
        if children:
            fix = f"it has since been subdivided: use one of {sample(children)}"
    else:
        message = f"{code} was not valid on {day.isoformat()} (valid {span_text(spans)})"
        fix = f"use the {name} code in force on the date of service"
    return message, f"{fix} (see {lookup})"


@rule("CODE-INVALID", "error", "Code validity on the date of service", INVALID_CITATION)
def check_code_invalid(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    uncovered: dict[str, tuple[list[int], list[str], set[date]]] = {}
    days = view.days
    for index, proc in enumerate(view.procs):
        day = days[index]
        if proc.code is not None:
            valid = proc_valid_on(ctx, proc, day)
            if valid:
                continue
            if valid is None:
                _not_covered(uncovered, proc.system, [index + 1], proc.code, day)
                continue
            message, fix = invalid_text(proc.code, proc.system, proc_spans(ctx, proc.code), day, ())
            yield r.finding((index + 1,), (proc.code,), f"Line {index + 1}: {message}.", fix)
            continue
        yield r.finding(
            (index + 1,),
            (claim.lines[index].code,),
            f"Line {index + 1}: {proc.error}.",
            "correct the procedure code: 5 characters, e.g. 99213 (CPT) or J3301 (HCPCS Level II), "
            "with modifiers in the modifier fields",
        )

    for position, dx in enumerate(view.dx):
        code = dx.code
        if code is None:
            yield r.finding(
                view.dx_lines[position],
                (claim.diagnoses[position],),
                f"Diagnosis {position + 1}: {dx.error}.",
                "correct the diagnosis code, e.g. E11.22 (a letter, two characters, a dot, up to 4 more)",
            )
            continue
        for day in view.dx_days[position]:
            valid = dx_valid_on(ctx, dx, day)
            if valid:
                continue
            lines = view.dx_lines[position]
            if valid is None:
                _not_covered(uncovered, "icd10cm", lines, code, day)
                continue
            info = view.info(ctx, position)
            assert info is not None
            if not info.spans and info.header:
                break  # a header is CODE-HEADER's finding
            message, fix = invalid_text(code, "icd10cm", info.spans, day, info.children)
            yield r.finding(lines, (code,), f"Diagnosis {position + 1}: {message}.", fix)
            break

    for system, (lines, codes, not_covered_days) in uncovered.items():
        yield r.not_run(
            sorted(set(lines)),
            list(dict.fromkeys(codes)),
            f"no installed {SYSTEM_NAMES[system]} release covers {days_text(not_covered_days)}",
        )


def _not_covered(
    into: dict[str, tuple[list[int], list[str], set[date]]],
    system: str,
    lines: list[int],
    code: str,
    day: date,
) -> None:
    entry = into.setdefault(system, ([], [], set()))
    entry[0].extend(lines)
    entry[1].append(code)
    entry[2].add(day)


@rule("CODE-HEADER", "error", "Diagnosis coded to its full number of characters", HEADER_CITATION)
def check_code_header(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    for position, dx in enumerate(view.dx):
        if dx.code is None or dx_valid_on(ctx, dx, view.dx_days[position][0]) is not False:
            continue  # valid, or not covered (CODE-INVALID says the code could not be checked)
        info = view.info(ctx, position)
        if info is None or info.spans or info.header is None:
            continue
        what = "a category" if len(dx.code) == 3 else "a subcategory"
        title = f" ({info.description})" if info.description else ""
        yield r.finding(
            view.dx_lines[position],
            (dx.code,),
            f"Diagnosis {position + 1}: {dx.code}{title} is {what} header, not a billable code: it has "
            "further subdivisions and a code must be reported to its full number of characters.",
            f"{info.header}, whichever the documentation supports",
        )
