"""The built-in claim edits. Importing this package registers every rule in
:data:`chartcode.edits.registry.REGISTRY`.

Rule ids: CODE-INVALID, CODE-HEADER (codes.py); NCCI-PTP, NCCI-MUE, NCCI-ADDON (ncci.py); MCE-AGE,
MCE-SEX, MCE-MANIFESTATION (mce.py); ICD-EXCLUDES1, ICD-CODE-FIRST, ICD-USE-ADDITIONAL (icd.py);
LATERALITY, DX-POINTER, DX-DUPLICATE, EM-MODIFIER-25, DUPLICATE-LINE (claimform.py); MODIFIER-INVALID,
MODIFIER-CONFLICT, POS-INVALID (modifiers.py). A rule that lacks the data for a date of service reports
``<RULE>-NOT-RUN`` instead of passing silently.
"""

from __future__ import annotations

from chartcode.edits.registry import REGISTRY, Rule
from chartcode.edits.rules import claimform, codes, icd, mce, modifiers, ncci

MODULES = (codes, ncci, mce, icd, claimform, modifiers)
BUILTIN_RULE_IDS: tuple[str, ...] = tuple(
    rule_id
    for rule_id, r in REGISTRY.items()
    if getattr(r.check, "__module__", "").startswith("chartcode.edits.rules.")
)


def builtin_rules() -> list[Rule]:
    """The built-in rules, in registration order."""
    return [REGISTRY[rule_id] for rule_id in BUILTIN_RULE_IDS]


__all__ = ["BUILTIN_RULE_IDS", "MODULES", "builtin_rules"]
