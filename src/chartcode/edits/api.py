"""Checking claims from Python: the built-in edits, then the payer packs.

Example::

    from chartcode.codesets.kb import open_kb
    from chartcode.edits.api import check

    result = check(
        {"id": "C1", "payer": {"id": "12202", "type": "medicare"}, "date_of_service": "2024-08-01",
         "diagnoses": ["E11.22"], "lines": [{"code": "99214"}]},
        open_kb(),
        packs=["examples/payer_pack.yaml"],
        fail_on="error",
    )
    result.to_dict()   # {"claim_id": "C1", "findings": [{"rule", "severity", "lines", "codes", ...}]}
    result.failed      # True when a finding is at or above fail_on

The built-in rules run through ``chartcode.edits.engine.check_claim``; pack findings follow them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from chartcode.codesets.kb import KnowledgeBase
from chartcode.edits.io import ClaimInputError, ClaimRecord, parse_claim
from chartcode.edits.model import Claim
from chartcode.edits.packs import PayerPack, apply_packs, load_packs
from chartcode.edits.registry import Finding, Severity
from chartcode.errors import ChartcodeError, InputError

Setting = Literal["practitioner", "outpatient_hospital"]
SETTINGS: tuple[Setting, ...] = ("practitioner", "outpatient_hospital")
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}

PackLike = PayerPack | Path | str
ClaimLike = Claim | Mapping[str, Any] | ClaimRecord


@dataclass(frozen=True)
class CheckResult:
    """The findings for one claim, or the error that kept it from being checked."""

    claim_id: str | None
    findings: tuple[Finding, ...] = ()
    error: ChartcodeError | None = None
    position: int | None = None  # JSONL line or 837 segment number when read from a file
    where: Literal["line", "segment"] = "line"
    fail_on: Severity | None = None

    @property
    def worst(self) -> Severity | None:
        """The most severe finding's severity (None without findings)."""
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=SEVERITY_RANK.__getitem__)

    @property
    def failed(self) -> bool:
        """True for an error record, or when a finding is at or above ``fail_on``."""
        if self.error is not None:
            return True
        return self.fail_on is not None and at_or_above(self.findings, self.fail_on)

    def to_dict(self) -> dict[str, Any]:
        """``{"claim_id", "findings"}``; an error record: ``{"claim_id", "line"|"segment", "error"}``."""
        if self.error is not None:
            return {"claim_id": self.claim_id, self.where: self.position, "error": self.error.to_dict()}
        return {"claim_id": self.claim_id, "findings": [f.to_dict() for f in self.findings]}


def at_or_above(findings: Iterable[Finding], severity: str) -> bool:
    floor = SEVERITY_RANK[severity]
    return any(SEVERITY_RANK[f.severity] >= floor for f in findings)


EngineCheck = Callable[..., list[Finding]]


ENGINE_MODULE = "chartcode.edits.engine"


def _engine() -> EngineCheck:
    """The built-in rule engine, imported when first needed (it loads the rule modules)."""
    module = sys.modules.get(ENGINE_MODULE)
    if module is None:
        try:
            module = importlib.import_module(ENGINE_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name != ENGINE_MODULE:
                raise
            raise ChartcodeError(
                "the claim edit engine (chartcode.edits.engine) is not part of this installation.",
                "install a chartcode version with claim edits.",
            ) from None
    return cast(EngineCheck, module.check_claim)


def _packs(packs: Sequence[PackLike]) -> tuple[PayerPack, ...]:
    return load_packs(packs) if packs else ()


def _options(setting: str, fail_on: str | None) -> tuple[Setting, Severity | None]:
    if setting not in SETTINGS:
        raise InputError(f"setting {setting!r} is not known.", "use practitioner or outpatient_hospital.")
    if fail_on is not None and fail_on not in SEVERITY_RANK:
        raise InputError(f"fail_on {fail_on!r} is not a severity.", "use error, warning or info (or None).")
    return setting, cast("Severity | None", fail_on)


def _open(kb: KnowledgeBase | Path | str) -> KnowledgeBase:
    if isinstance(kb, KnowledgeBase):
        return kb
    from chartcode.codesets.kb import open_kb

    return open_kb(Path(kb))


def check(
    claim_or_dict: Claim | Mapping[str, Any],
    kb: KnowledgeBase | Path | str,
    *,
    packs: Sequence[PackLike] = (),
    setting: str = "practitioner",
    fail_on: str | None = None,
) -> CheckResult:
    """Check one claim: the built-in edits for ``setting``, then every pack rule for the claim's payer.

    A dictionary is validated first (:class:`~chartcode.edits.io.ClaimInputError` with field-level
    messages); packs may be given as loaded :class:`PayerPack` values or as paths.
    """
    chosen, floor = _options(setting, fail_on)
    claim = parse_claim(claim_or_dict)
    loaded = _packs(packs)
    base = _open(kb)
    return _check_one(claim, base, _engine(), loaded, chosen, floor)


def check_many(
    claims: Iterable[ClaimLike],
    kb: KnowledgeBase | Path | str,
    *,
    packs: Sequence[PackLike] = (),
    setting: str = "practitioner",
    fail_on: str | None = None,
) -> Iterator[CheckResult]:
    """Check claims one after the other (a generator, in input order).

    A claim that cannot be read (a bad dictionary, or an error :class:`ClaimRecord` from
    :func:`chartcode.edits.io.read_claims`) gives an error result and the batch goes on.
    """
    chosen, floor = _options(setting, fail_on)
    loaded = _packs(packs)
    base = _open(kb)
    engine = _engine()
    for item in claims:
        if isinstance(item, ClaimRecord):
            if item.claim is None:
                yield CheckResult(item.claim_id, (), item.error, item.position, item.where, floor)
                continue
            result = _check_one(item.claim, base, engine, loaded, chosen, floor)
            yield CheckResult(result.claim_id, result.findings, None, item.position, item.where, floor)
            continue
        try:
            claim = parse_claim(item)
        except ClaimInputError as exc:
            cid = item.get("id") if isinstance(item, Mapping) else None
            yield CheckResult(cid if isinstance(cid, str) else None, (), exc, None, "line", floor)
            continue
        yield _check_one(claim, base, engine, loaded, chosen, floor)


def _check_one(
    claim: Claim,
    kb: KnowledgeBase,
    engine: EngineCheck,
    packs: tuple[PayerPack, ...],
    setting: Setting,
    fail_on: Severity | None,
) -> CheckResult:
    findings = list(engine(claim, kb, setting=setting))
    findings.extend(apply_packs(claim, packs))
    return CheckResult(claim.id, tuple(findings), fail_on=fail_on)
