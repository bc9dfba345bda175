"""The claim as the scrubber sees it: close to an X12 837P professional claim.

Pydantic models validate input at the edge (JSON, JSONL, a parsed 837P) with field-level errors;
everything after that reads these immutable models. Line numbers in findings are 1-based, as on the
claim form (and as diagnosis pointers are).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PayerType = Literal["medicare", "medicaid", "commercial", "tricare", "workers_comp", "self_pay", "other"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Patient(_Frozen):
    sex: Literal["F", "M", "U"] | None = None
    birth_date: date | None = None
    age: int | None = Field(default=None, ge=0, le=130)

    def age_on(self, day: date) -> int | None:
        """Age in whole years on ``day`` (from the birth date when given, else the stated age)."""
        if self.birth_date is not None:
            years = day.year - self.birth_date.year
            if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
                years -= 1
            return years
        return self.age


class Payer(_Frozen):
    id: str = Field(min_length=1)
    type: PayerType = "commercial"
    name: str | None = None


class Line(_Frozen):
    code: str = Field(min_length=1)
    modifiers: tuple[str, ...] = ()
    units: Decimal = Field(default=Decimal(1), gt=0)
    dx_pointers: tuple[int, ...] = ()
    date_of_service: date | None = None
    charge: Decimal | None = Field(default=None, ge=0)
    place_of_service: str | None = None

    @field_validator("code")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("modifiers")
    @classmethod
    def _modifiers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(m.strip().upper() for m in value)
        for m in out:
            if len(m) != 2 or not m.isalnum():
                raise ValueError(f"modifier {m!r} is not two letters or digits")
        if len(out) > 4:
            raise ValueError("a line takes at most 4 modifiers")
        return out


class Claim(_Frozen):
    id: str = Field(min_length=1)
    patient: Patient = Patient()
    payer: Payer
    place_of_service: str | None = None
    date_of_service: date | None = None
    rendering_specialty: str | None = None  # CMS specialty code or taxonomy
    diagnoses: tuple[str, ...] = ()  # ordered: the first is the primary (first-listed) diagnosis
    lines: tuple[Line, ...] = Field(min_length=1)

    @field_validator("diagnoses")
    @classmethod
    def _dx(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > 12:
            raise ValueError("an 837P claim carries at most 12 diagnosis codes")
        return tuple(v.strip().upper() for v in value)

    @model_validator(mode="after")
    def _dates(self) -> Claim:
        for number, line in enumerate(self.lines, start=1):
            if line.date_of_service is None and self.date_of_service is None:
                raise ValueError(f"line {number} has no date_of_service and the claim has none either")
        return self

    def line_date(self, index: int) -> date:
        """Date of service of line ``index`` (0-based): its own, else the claim's."""
        line = self.lines[index]
        day = line.date_of_service or self.date_of_service
        assert day is not None  # guaranteed by the validator
        return day

    def line_pos(self, index: int) -> str | None:
        return self.lines[index].place_of_service or self.place_of_service
