"""The coding contract shared by the coder, the batch runner, the CLI and the evaluation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:  # defined beside their producers, which import this module
    from chartcode.assign.em import EmResult
    from chartcode.assign.services import CodedService

Policy = Literal["billing", "all-mentions"]
Setting = Literal["outpatient", "inpatient"]
POLICIES: tuple[Policy, ...] = ("billing", "all-mentions")
SETTINGS: tuple[Setting, ...] = ("outpatient", "inpatient")


@dataclass(frozen=True, slots=True)
class CodingOptions:
    policy: Policy = "billing"
    setting: Setting = "outpatient"
    date_of_service: date | None = None  # None: the newest installed release
    patient_age: int | None = None
    patient_sex: Literal["F", "M"] | None = None
    billed_em: str | None = None  # the E/M code billed for the visit: E/M flags say if the note supports it


@dataclass(frozen=True, slots=True)
class Evidence:
    start: int  # character offsets into the input text
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class CodedDiagnosis:
    code: str  # dotted ICD-10-CM, valid and billable on the date of service
    description: str
    evidence: tuple[Evidence, ...]
    rationale: str  # the index path or rule that produced the code, in words
    confidence: float  # 0..1
    guideline: str | None = None  # Official Guidelines section applied, e.g. "I.A.15"
    path: str | None = None  # Alphabetic Index path, e.g. "Diabetes, diabetic › type 2 › with › CKD"
    status: str = "present"  # present | history | family | uncertain | symptom ...


@dataclass(frozen=True, slots=True)
class CodingResult:
    diagnoses: tuple[CodedDiagnosis, ...]
    release: str  # the ICD-10-CM release that answered, e.g. "icd10cm-tabular:FY2026"
    date_of_service: str | None
    policy: str
    setting: str
    warnings: tuple[str, ...] = field(default=())
    procedures: tuple[CodedService, ...] = ()  # professional services: CPT/HCPCS lines (issue 4)
    em: EmResult | None = None  # the E/M level the note supports; None when it is no E/M visit

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CoderLike(Protocol):
    def code(self, text: str | bytes, options: CodingOptions) -> CodingResult: ...
