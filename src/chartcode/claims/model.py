"""The encounter claim: the scrubber's claim plus everything a payer needs to adjudicate it.

:class:`EncounterClaim` subclasses :class:`chartcode.edits.model.Claim`, so the claim scrubber
(``chartcode.edits.api.check``) runs on it unchanged. It adds the billing and rendering provider
(NPI with its check digit verified, tax id, taxonomy, address), the subscriber and the patient
(names, birth date, sex, address, member id, relationship), the payer's name and address, the claim
frequency, prior authorization, the submitter and receiver of the X12 envelope and per-line control
numbers. Pydantic validates every field; :func:`parse_encounter` turns validation errors into
field-level messages (``billing_provider.npi: ...``).

Canonical form (so that a claim written as 837P and read back compares equal): when the patient is
the subscriber (relationship ``18``) the patient's name, address, birth date and sex default to the
subscriber's and the other way round; lines without a date of service take the claim's, and the
claim's date of service is then the earliest line date; a line's place of service equal to the claim's
is dropped (a claim without one takes the first line's); an age given beside a birth date is dropped
(the birth date decides); the rendering specialty defaults to the rendering (else the billing)
provider's taxonomy; the payer's claim filing indicator (SBR09) defaults from the payer type. Two
837P rules shape it too: a
subscriber who is not the patient carries no birth date or sex (2010BA DMG is sent only for the
patient), and a rendering provider with the billing provider's NPI is dropped (2310B is sent only when
the two differ).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chartcode.codesets.common import icd_dotted
from chartcode.edits.io import field_errors
from chartcode.edits.model import Claim, Line, Patient, Payer, PayerType
from chartcode.errors import InputError

# X12 delimiters this writer uses; no data value may contain them.
X12_RESERVED = re.compile(r"[*~:^]")

# SBR09 claim filing indicator written for each payer type (005010X222A1 2000B SBR09). Self-pay has
# none: the 5010 837P dropped code 09, a self-pay encounter is billed to the patient, not sent as an 837P.
FILING_FOR_TYPE: dict[PayerType, str] = {
    "medicare": "MB",
    "medicaid": "MC",
    "commercial": "CI",
    "tricare": "CH",
    "workers_comp": "WC",
    "other": "ZZ",
}

# PAT01 / SBR02 individual relationship codes (patient's relationship to the subscriber).
Relationship = Literal["18", "01", "19", "20", "21", "39", "40", "53", "G8"]
RELATIONSHIP_NAMES: dict[str, str] = {
    "18": "self",
    "01": "spouse",
    "19": "child",
    "20": "employee",
    "21": "unknown",
    "39": "organ donor",
    "40": "cadaver donor",
    "53": "life partner",
    "G8": "other relationship",
}


class EncounterClaimError(InputError):
    """An encounter claim (JSON, header or coded result) that does not fit the encounter model."""

    code = "CC500"


ENCOUNTER_FIX = (
    "correct the field(s) named (see examples/encounter.json for a complete encounter: billing_provider, "
    "rendering_provider, subscriber, patient, payer, submitter, receiver, diagnoses, lines) and try again."
)


def npi_check_digit_ok(npi: str) -> bool:
    """True when the 10-digit NPI's last digit is its Luhn check digit (prefix 80840, CMS NPI standard)."""
    if not re.fullmatch(r"\d{10}", npi):
        return False
    digits = [int(c) for c in "80840" + npi]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _text_ok(value: str | None) -> str | None:
    if value is not None and X12_RESERVED.search(value):
        raise ValueError("may not contain the X12 delimiters * ~ : ^")
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Address(_Frozen):
    line1: str = Field(min_length=1, max_length=55)
    line2: str | None = Field(default=None, max_length=55)
    city: str = Field(min_length=2, max_length=30)
    state: str = Field(pattern=r"^[A-Z]{2}$")
    postal_code: str = Field(pattern=r"^\d{5}(\d{4})?$", description="ZIP code, 5 or 9 digits, no hyphen")

    @field_validator("line1", "line2", "city")
    @classmethod
    def _x12(cls, value: str | None) -> str | None:
        return _text_ok(value)

    @field_validator("postal_code", mode="before")
    @classmethod
    def _zip(cls, value: object) -> object:
        return value.replace("-", "") if isinstance(value, str) else value


class Provider(_Frozen):
    """A billing or rendering provider: an organization or a person, with NPI and taxonomy."""

    npi: str
    organization: str | None = Field(default=None, max_length=60)
    last_name: str | None = Field(default=None, max_length=60)
    first_name: str | None = Field(default=None, max_length=35)
    tax_id: str | None = Field(default=None, description="EIN or SSN, 9 digits")
    tax_id_type: Literal["EIN", "SSN"] = "EIN"
    taxonomy: str | None = Field(default=None, pattern=r"^[0-9]{3}[0-9A-Z]{6}X$")
    address: Address | None = None

    @field_validator("npi")
    @classmethod
    def _npi(cls, value: str) -> str:
        if not re.fullmatch(r"\d{10}", value):
            raise ValueError("an NPI is 10 digits")
        if not npi_check_digit_ok(value):
            raise ValueError(f"NPI {value} fails its check digit (Luhn, prefix 80840); check it for a typo")
        return value

    @field_validator("tax_id", mode="before")
    @classmethod
    def _tax_id(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.replace("-", "").strip()
            if not re.fullmatch(r"\d{9}", value):
                raise ValueError("a tax id (EIN or SSN) is 9 digits")
        return value

    @field_validator("organization", "last_name", "first_name")
    @classmethod
    def _x12(cls, value: str | None) -> str | None:
        return _text_ok(value)

    @model_validator(mode="after")
    def _name(self) -> Provider:
        if (self.organization is None) == (self.last_name is None):
            raise ValueError("give either organization (a group) or last_name (a person), not both")
        return self

    @property
    def is_person(self) -> bool:
        return self.organization is None

    @property
    def display_name(self) -> str:
        if self.organization is not None:
            return self.organization
        return ", ".join(p for p in (self.last_name, self.first_name) if p)


class Subscriber(_Frozen):
    """The insured: the person whose coverage pays (2010BA)."""

    last_name: str = Field(min_length=1, max_length=60)
    first_name: str | None = Field(default=None, max_length=35)
    member_id: str = Field(min_length=2, max_length=80)
    group_number: str | None = Field(default=None, max_length=50)
    birth_date: date | None = None
    sex: Literal["F", "M", "U"] | None = None
    address: Address | None = None

    @field_validator("last_name", "first_name", "member_id", "group_number")
    @classmethod
    def _x12(cls, value: str | None) -> str | None:
        return _text_ok(value)


class EncounterPatient(Patient):
    """The scrubber's patient (sex, birth date) with a name, an address and the relationship to the
    subscriber (``18`` self: the patient is the subscriber)."""

    last_name: str | None = Field(default=None, max_length=60)
    first_name: str | None = Field(default=None, max_length=35)
    address: Address | None = None
    relationship: Relationship = "18"

    @field_validator("last_name", "first_name")
    @classmethod
    def _x12(cls, value: str | None) -> str | None:
        return _text_ok(value)


class EncounterPayer(Payer):
    name: str = Field(min_length=1, max_length=60)
    address: Address | None = None
    filing_indicator: str | None = Field(default=None, pattern=r"^[0-9A-Z]{2}$")

    @field_validator("id", "name")
    @classmethod
    def _x12(cls, value: str) -> str:
        _text_ok(value)
        return value

    @model_validator(mode="after")
    def _filing(self) -> EncounterPayer:
        if self.filing_indicator is None:
            object.__setattr__(self, "filing_indicator", FILING_FOR_TYPE.get(self.type))
        return self


class Party(_Frozen):
    """Submitter (1000A) or receiver (1000B) of the interchange: the ids go in ISA06/ISA08 and GS02/GS03."""

    id: str = Field(min_length=2, max_length=15, pattern=r"^[0-9A-Za-z]+$")
    name: str = Field(min_length=1, max_length=60)
    contact_name: str | None = Field(default=None, max_length=60)
    contact_phone: str | None = Field(default=None, pattern=r"^\d{10}$")

    @field_validator("contact_phone", mode="before")
    @classmethod
    def _phone(cls, value: object) -> object:
        return re.sub(r"[^\d]", "", value) if isinstance(value, str) else value

    @field_validator("name", "contact_name")
    @classmethod
    def _x12(cls, value: str | None) -> str | None:
        return _text_ok(value)


class ServiceLine(Line):
    control_number: str | None = Field(default=None, min_length=1, max_length=50, pattern=r"^[0-9A-Za-z-]+$")


class EncounterClaim(Claim):
    """One professional claim, complete enough for an 837P, a FHIR Claim or a CMS-1500."""

    patient: EncounterPatient
    payer: EncounterPayer
    lines: tuple[ServiceLine, ...] = Field(min_length=1, max_length=50)
    billing_provider: Provider
    rendering_provider: Provider | None = None
    subscriber: Subscriber
    submitter: Party
    receiver: Party
    frequency_code: Literal["1", "7", "8"] = "1"  # original, replacement, void
    original_claim_number: str | None = Field(default=None, max_length=50)  # REF*F8, for 7 and 8
    prior_authorization: str | None = Field(default=None, max_length=50)  # REF*G1
    onset_date: date | None = None  # DTP*431, onset of current illness or symptom

    @field_validator("id")
    @classmethod
    def _id_x12(cls, value: str) -> str:
        _text_ok(value)
        return value

    @field_validator("original_claim_number", "prior_authorization")
    @classmethod
    def _x12(cls, value: str | None) -> str | None:
        return _text_ok(value)

    @model_validator(mode="before")
    @classmethod
    def _canonical(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        patient = out.get("patient")
        subscriber = out.get("subscriber")
        if isinstance(patient, Mapping) and isinstance(subscriber, Mapping):
            patient, subscriber = dict(patient), dict(subscriber)
            if patient.get("relationship", "18") == "18":
                for key in ("last_name", "first_name", "address", "birth_date", "sex"):
                    if patient.get(key) is None and subscriber.get(key) is not None:
                        patient[key] = subscriber[key]
                    elif subscriber.get(key) is None and patient.get(key) is not None:
                        subscriber[key] = patient[key]
            else:
                # 2010BA DMG is sent only when the subscriber is the patient (005010X222A1)
                subscriber.pop("birth_date", None)
                subscriber.pop("sex", None)
            if patient.get("birth_date") is not None:
                patient.pop("age", None)
            out["patient"], out["subscriber"] = patient, subscriber
        lines = out.get("lines")
        if isinstance(lines, list | tuple):
            day = out.get("date_of_service")
            if out.get("place_of_service") is None and lines and isinstance(lines[0], Mapping):
                out["place_of_service"] = lines[0].get("place_of_service")
            pos = out.get("place_of_service")
            fixed = []
            for line in lines:
                if isinstance(line, Mapping):
                    line = dict(line)
                    if line.get("date_of_service") is None and day is not None:
                        line["date_of_service"] = day
                    if pos is not None and line.get("place_of_service") == pos:
                        line["place_of_service"] = None  # the claim's (CLM05-1); SV105 only when it differs
                fixed.append(line)
            out["lines"] = fixed
        rendering = out.get("rendering_provider")
        billing = out.get("billing_provider")
        if (
            isinstance(rendering, Mapping)
            and isinstance(billing, Mapping)
            and rendering.get("npi") == billing.get("npi")
        ):
            # 2310B is sent only when the rendering provider differs from the billing provider
            out["rendering_provider"] = rendering = None
        if out.get("rendering_specialty") is None:
            # the rendering provider's taxonomy; without one, the billing provider renders the service
            renderer = rendering if isinstance(rendering, Mapping) else billing
            if isinstance(renderer, Mapping):
                out["rendering_specialty"] = renderer.get("taxonomy")
        dx = out.get("diagnoses")
        if isinstance(dx, list | tuple):
            out["diagnoses"] = [icd_dotted(d) if isinstance(d, str) else d for d in dx]
        return out

    @model_validator(mode="after")
    def _complete(self) -> EncounterClaim:
        # the claim's date is its first date of service (an 837P carries dates on the lines only)
        first = min(self.line_date(i) for i in range(len(self.lines)))
        object.__setattr__(self, "date_of_service", first)
        bp = self.billing_provider
        if bp.address is None:
            raise ValueError("billing_provider.address: the billing provider needs an address (2010AA N3/N4)")
        if len(bp.address.postal_code) != 9:
            raise ValueError(
                "billing_provider.address.postal_code: the billing provider's ZIP code must have 9 digits "
                "(ZIP+4, 2010AA N403)"
            )
        if bp.tax_id is None:
            raise ValueError("billing_provider.tax_id: the billing provider needs its EIN or SSN (REF*EI/SY)")
        if self.patient.birth_date is None or self.patient.sex is None:
            raise ValueError("patient: birth_date and sex are required on a claim (DMG)")
        if self.patient.last_name is None:
            raise ValueError("patient.last_name: the patient needs a name")
        if self.patient.address is None:
            raise ValueError("patient.address: the patient needs an address")
        if self.frequency_code in ("7", "8") and self.original_claim_number is None:
            raise ValueError(
                "original_claim_number: a replacement (7) or void (8) needs the payer's claim control "
                "number of the original claim (REF*F8)"
            )
        if self.submitter.contact_phone is None:
            raise ValueError(
                "submitter.contact_phone: the submitter contact of the interchange (1000A PER) needs a "
                "10-digit phone number"
            )
        if not self.diagnoses:
            raise ValueError("diagnoses: a professional claim needs at least one diagnosis (HI ABK)")
        for number, line in enumerate(self.lines, start=1):
            if not line.dx_pointers:
                raise ValueError(f"lines.{number}.dx_pointers: each line points to at least one diagnosis")
            if len(line.dx_pointers) > 4:
                raise ValueError(f"lines.{number}.dx_pointers: at most 4 pointers per line")
            for p in line.dx_pointers:
                if not 1 <= p <= len(self.diagnoses):
                    raise ValueError(
                        f"lines.{number}.dx_pointers: pointer {p} has no diagnosis "
                        f"(the claim has {len(self.diagnoses)})"
                    )
        return self

    @property
    def patient_is_subscriber(self) -> bool:
        return self.patient.relationship == "18"

    @property
    def total_charge(self) -> float:
        return float(sum((line.charge or 0) for line in self.lines))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dictionary (dates as ISO text, amounts as numbers), without unset optional fields."""
        data: dict[str, Any] = json.loads(self.model_dump_json(exclude_none=True))
        for line in data.get("lines", []):
            for key in ("units", "charge"):
                if key in line:
                    line[key] = float(line[key])
        return data


def parse_encounter(data: object, *, name: str = "the encounter") -> EncounterClaim:
    """Validate an encounter claim dictionary; :class:`EncounterClaimError` lists every bad field."""
    if isinstance(data, EncounterClaim):
        return data
    if not isinstance(data, Mapping):
        raise EncounterClaimError(f"{name} is not a JSON object.", ENCOUNTER_FIX)
    try:
        return EncounterClaim.model_validate(dict(data))
    except ValidationError as exc:
        raise EncounterClaimError(f"{name}: {field_errors(exc)}.", ENCOUNTER_FIX) from None


def encounter_from_json(text: str, name: str = "<input>") -> EncounterClaim:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EncounterClaimError(
            f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
            "give one encounter as a JSON object (see examples/encounter.json).",
        ) from None
    return parse_encounter(data, name=name)


__all__ = [
    "Address",
    "EncounterClaim",
    "EncounterClaimError",
    "EncounterPatient",
    "EncounterPayer",
    "Party",
    "Provider",
    "ServiceLine",
    "Subscriber",
    "encounter_from_json",
    "npi_check_digit_ok",
    "parse_encounter",
]
