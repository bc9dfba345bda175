"""The review workflow over a real database (SQLite and PostgreSQL), with the fake keyword coder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chartcode.assign.api import CodingOptions, CodingResult
from chartcode.review import accounts, kpis, workflow
from chartcode.review.workflow import DocumentInput, EncounterInput
from chartcode.store.errors import CodeFormatError, ConflictError, NotFoundError, WorkflowError
from chartcode.store.models import AuditLog, Claim, ClaimFinding, Encounter, Remit, Suggestion, User
from tests.assign.fake_coder import FakeCoder
from tests.store.backends import Database


def item(text: str, external_id: str | None = None, **kw: object) -> EncounterInput:
    return EncounterInput(documents=(DocumentInput(text),), external_id=external_id, **kw)  # type: ignore[arg-type]


def user(session: Session, name: str, role: str = "coder") -> User:
    return accounts.create_user(session, None, name, "password-123", role)


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


class CountingCoder:
    """The fake coder, counting calls; raises ``crash`` on the note containing ``crash_on``."""

    def __init__(self, crash_on: str | None = None, crash: type[BaseException] = RuntimeError) -> None:
        self.inner = FakeCoder(0)
        self.calls: list[str] = []
        self.crash_on = crash_on
        self.crash = crash

    def code(self, text: str | bytes, options: CodingOptions) -> CodingResult:
        note = text.decode() if isinstance(text, bytes) else text
        self.calls.append(note)
        if self.crash_on is not None and self.crash_on in note:
            raise self.crash("simulated crash")
        return self.inner.code(note, options)


class Crash(BaseException):
    """The process dying mid-batch (not an error the batch could report)."""


def test_intake_stores_documents_suggestions_evidence_and_release(session: Session) -> None:
    ann = user(session, "ann")
    text = "Type 2 diabetes with kidney disease."
    enc, created = workflow.intake(
        session, ann, item(text, "E-1", date_of_service=date(2026, 3, 2)), FakeCoder(0)
    )
    assert created and enc.status == "new" and enc.version == 1 and enc.release == "icd10cm-tabular:FY2026"
    assert [d.text for d in enc.documents] == [text]
    assert [(s.code, s.system, s.kind, s.status) for s in enc.suggestions] == [
        ("E11.9", "ICD-10-CM", "diagnosis", "suggested"),
        ("E11.22", "ICD-10-CM", "diagnosis", "suggested"),
    ]
    doc_id = enc.documents[0].id
    assert enc.suggestions[1].evidence == [{"document_id": doc_id, "start": 21, "end": 27, "text": "kidney"}]
    assert text[21:27] == "kidney"
    [row] = session.scalars(select(AuditLog).where(AuditLog.entity == "encounter")).all()
    assert (row.action, row.entity, row.entity_id, row.username) == (
        "encounter.create",
        "encounter",
        enc.id,
        "ann",
    )
    assert text not in str(row.after)  # document text is not copied into the audit log
    again, created = workflow.intake(session, ann, item("other text", "E-1"), FakeCoder(0))
    assert (again.id, created) == (enc.id, False)


def test_two_documents_merge_suggestions_and_keep_each_documents_evidence(session: Session) -> None:
    two = EncounterInput(documents=(DocumentInput("diabetes"), DocumentInput("known diabetes", "consult")))
    enc, _ = workflow.intake(session, None, two, FakeCoder(0))
    [s] = enc.suggestions
    assert [(e["document_id"], e["start"]) for e in s.evidence] == [
        (enc.documents[0].id, 0),
        (enc.documents[1].id, 6),
    ]


def test_decisions_complete_and_the_audit_trail(session: Session) -> None:
    ann = user(session, "ann")
    enc, _ = workflow.intake(session, ann, item("diabetes and kidney and blindness"), FakeCoder(0))
    dm, ckd, blind = enc.suggestions
    enc = workflow.decide(session, ann, enc.id, dm.id, "accept", 1)
    assert (enc.status, enc.version, enc.assigned_to) == ("in_review", 2, ann.id)
    enc = workflow.decide(
        session, ann, enc.id, ckd.id, "modify", 2, code="e1121", reason="nephropathy documented"
    )
    with pytest.raises(WorkflowError, match=r"not decided yet: H54\.8"):
        workflow.complete(session, ann, enc.id, 3)
    with pytest.raises(WorkflowError, match="needs a reason"):
        workflow.decide(session, ann, enc.id, blind.id, "reject", 3)
    enc = workflow.decide(
        session, ann, enc.id, blind.id, "reject", 3, reason="not documented as legal blindness"
    )
    enc = workflow.add_code(session, ann, enc.id, "J3301", "injection given", 4)
    with pytest.raises(CodeFormatError):
        workflow.add_code(session, ann, enc.id, "not a code", "x", 5)
    assert workflow.final_codes(enc) == ["E11.9", "E11.21", "J3301"]
    enc = workflow.complete(session, ann, enc.id, 5)
    assert (enc.status, enc.version, enc.coded_by) == ("coded", 6, ann.id)
    with pytest.raises(WorkflowError, match="is coded"):
        workflow.decide(session, ann, enc.id, dm.id, "reject", 6, reason="late")
    assert actions(session)[1:] == [
        "encounter.create",
        "suggestion.accept",
        "suggestion.modify",
        "suggestion.reject",
        "suggestion.add",
        "encounter.complete",
    ]
    modify = session.scalars(select(AuditLog).where(AuditLog.action == "suggestion.modify")).one()
    assert modify.before is not None and modify.after is not None
    assert (modify.before["status"], modify.after["status"], modify.after["final_code"]) == (
        "suggested",
        "modified",
        "E11.21",
    )


def test_a_stale_version_is_a_conflict_and_no_update_is_lost(database: Database) -> None:
    """Two coders open version 1; the second write is refused with who and when; both end up applied."""
    from chartcode.store.db import session_factory

    engine = database.engine()
    make = session_factory(engine)
    with make() as s:
        ann, bob = user(s, "ann"), user(s, "bob")
        enc, _ = workflow.intake(s, ann, item("diabetes and kidney"), FakeCoder(0))
        first, second = (g.id for g in enc.suggestions)
        eid = enc.id
    with make() as one, make() as two:
        seen_one = workflow.get_encounter(one, eid).version
        seen_two = workflow.get_encounter(two, eid).version
        workflow.decide(one, ann, eid, first, "accept", seen_one)
        with pytest.raises(ConflictError, match=r"changed by ann at \d{4}-\d\d-\d\d .* reload to see"):
            workflow.decide(two, bob, eid, second, "reject", seen_two, reason="not supported")
        fresh = workflow.get_encounter(two, eid)
        assert fresh.version == 2 and [g.status for g in fresh.suggestions] == ["accepted", "suggested"]
        workflow.decide(two, bob, eid, second, "reject", fresh.version, reason="not supported")
    with make() as s:
        enc = workflow.get_encounter(s, eid)
        assert [g.status for g in enc.suggestions] == ["accepted", "rejected"] and enc.version == 3
    engine.dispose()


def test_queries_hold_the_encounter_until_answered(session: Session) -> None:
    ann = user(session, "ann")
    enc, _ = workflow.intake(session, ann, item("diabetes"), FakeCoder(0))
    [dm] = enc.suggestions
    q = workflow.create_query(session, ann, enc.id, "Is the diabetes type 1 or type 2?", dm.id)
    enc = workflow.get_encounter(session, enc.id)
    assert (q.status, enc.status, enc.version) == ("open", "query", 2)
    enc = workflow.decide(session, ann, enc.id, dm.id, "accept", 2)
    with pytest.raises(WorkflowError, match="still open"):
        workflow.complete(session, ann, enc.id, enc.version)
    with pytest.raises(WorkflowError, match="needs the answer"):
        workflow.update_query(session, ann, q.id, "answered")
    workflow.update_query(session, ann, q.id, "answered", "type 2")
    enc = workflow.get_encounter(session, enc.id)
    assert enc.status == "in_review"
    assert [x.status for x in workflow.list_queries(session, "answered")] == ["answered"]
    assert workflow.list_queries(session, "open") == []
    with pytest.raises(NotFoundError):
        workflow.update_query(session, ann, 999, "closed")
    assert workflow.complete(session, ann, enc.id, enc.version).status == "coded"


def test_a_crash_mid_batch_keeps_what_was_stored_and_resending_resumes(session: Session) -> None:
    notes = [item(f"diabetes note {k}", f"B-{k}") for k in range(5)]
    crashing = CountingCoder(crash_on="note 2", crash=Crash)
    with pytest.raises(Crash):
        workflow.intake_batch(session, None, notes, crashing)
    session.rollback()
    stored = dict(session.execute(select(Encounter.external_id, Encounter.id)).all())
    assert sorted(stored) == ["B-0", "B-1"]
    assert session.scalar(select(func.count(Suggestion.id))) == 2
    working = CountingCoder()
    results = workflow.intake_batch(session, None, notes, working)
    assert [(r.index, r.created) for r in results] == [
        (0, False),
        (1, False),
        (2, True),
        (3, True),
        (4, True),
    ]
    assert [r.id for r in results[:2]] == [stored["B-0"], stored["B-1"]]
    assert working.calls == [
        "diabetes note 2",
        "diabetes note 3",
        "diabetes note 4",
    ]  # stored ones not recoded
    assert session.scalar(select(func.count(Encounter.id))) == 5


def test_a_failing_item_is_reported_and_the_batch_goes_on(session: Session) -> None:
    notes = [item(f"diabetes {k}", f"F-{k}") for k in range(3)]
    results = workflow.intake_batch(
        session,
        None,
        notes,
        CountingCoder(crash_on="diabetes 1"),
        on_error=lambda i, exc: {"code": "CC610", "message": f"item {i} failed ({type(exc).__name__})"},
    )
    assert [r.id is not None for r in results] == [True, False, True]
    assert results[1].error == {"code": "CC610", "message": "item 1 failed (RuntimeError)"}
    assert sorted(session.scalars(select(Encounter.external_id))) == ["F-0", "F-2"]


def _coded(session: Session, coder_user: User, text: str, conf: float | None = None) -> Encounter:
    enc, _ = workflow.intake(session, coder_user, item(text), FakeCoder(0))
    if conf is not None:
        enc.suggestions[0].confidence = conf
        session.commit()
    for g in enc.suggestions:
        enc = workflow.decide(session, coder_user, enc.id, g.id, "accept", enc.version)
    return workflow.complete(session, coder_user, enc.id, enc.version)


def test_second_review_sampling_is_reproducible_and_takes_every_low_confidence_encounter(
    session: Session,
) -> None:
    ann, aud = user(session, "ann"), user(session, "aud", "auditor")
    low = _coded(session, ann, "diabetes", conf=0.3)
    others = [_coded(session, ann, f"diabetes {k}") for k in range(9)]
    open_one, _ = workflow.intake(session, ann, item("diabetes open"), FakeCoder(0))
    open_one.suggestions[0].confidence = 0.1
    session.commit()
    ids = [e.id for e in others]
    import random

    expected_random = {e.id for e in random.Random(42).sample([low, *others], 3)}
    chosen = workflow.sample_for_review(session, aud, 0.3, 0.5, seed=42)
    assert set(chosen) == expected_random | {low.id}
    assert open_one.id not in chosen  # only coded encounters are sampled
    statuses = dict(session.execute(select(Encounter.id, Encounter.status)).all())
    assert {i for i, st in statuses.items() if st == "second_review"} == set(chosen)
    assert all(statuses[i] == "coded" for i in ids if i not in chosen)
    assert actions(session).count("encounter.sample") == len(chosen)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def at(self, day: int, hour: int, minute: int = 0) -> None:
        self.now = datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock(datetime(2026, 3, 2, 8, tzinfo=UTC))
    monkeypatch.setattr(workflow, "utcnow", lambda: c.now)
    return c


def test_kpis_on_constructed_data(session: Session, clock: Clock) -> None:
    ann, bob, aud = user(session, "ann"), user(session, "bob"), user(session, "aud", "auditor")
    clock.at(2, 8)
    a, _ = workflow.intake(session, ann, item("diabetes and kidney"), FakeCoder(0))
    b, _ = workflow.intake(session, bob, item("diabetes"), FakeCoder(0))
    c, _ = workflow.intake(session, ann, item("blindness"), FakeCoder(0))
    clock.at(2, 9)
    a = workflow.decide(session, ann, a.id, a.suggestions[0].id, "accept", a.version)
    b = workflow.decide(session, bob, b.id, b.suggestions[0].id, "reject", b.version, reason="not supported")
    clock.at(2, 9, 30)
    a = workflow.decide(
        session, ann, a.id, a.suggestions[1].id, "modify", a.version, code="E11.21", reason="r"
    )
    clock.at(2, 10)
    workflow.complete(session, ann, a.id, a.version)  # turnaround 2 h
    clock.at(2, 11)
    b = workflow.add_code(session, bob, b.id, "E78.5", "documented", b.version)
    clock.at(2, 12)
    workflow.complete(session, bob, b.id, b.version)  # 4 h
    clock.at(3, 9)
    c = workflow.decide(session, ann, c.id, c.suggestions[0].id, "accept", c.version)
    clock.at(3, 9, 20)
    workflow.complete(session, ann, c.id, c.version)  # 25 h 20 min
    clock.at(3, 15)
    workflow.audit_encounter(session, aud, a.id, True)
    workflow.audit_encounter(session, aud, b.id, False, ["E11.9", "E78.5"], "diabetes was documented")
    # claims (the latest per encounter counts) and remittances, constructed directly
    t = datetime(2026, 3, 3, 16, tzinfo=UTC)
    old, new, other = (
        Claim(encounter_id=e, data={}, created_at=t + timedelta(minutes=i))
        for i, e in enumerate((a.id, a.id, b.id))
    )
    session.add_all([old, new, other])
    session.flush()
    for claim_row, n in ((old, 2), (new, 1), (other, 0)):
        for k in range(n):
            session.add(
                ClaimFinding(
                    claim_id=claim_row.id, rule=f"R{k}", severity="error", message="m", fix="f", citation="c"
                )
            )
    session.add_all([Remit(claim_id=new.id, status=s, received_at=t) for s in ("paid", "denied", "paid")])
    session.commit()

    k = kpis.compute(session)
    assert (k["accuracy"], k["code_accuracy"], k["audited"]) == (0.5, 0.75, 2)
    assert k["coded"] == 3 and k["turnaround_hours_median"] == 4.0
    assert (k["decisions"], k["acceptance_rate"], k["modification_rate"], k["rejection_rate"]) == (
        4,
        0.5,
        0.25,
        0.25,
    )
    assert k["charts_per_hour"] == round(3 / (4 / 3 + 3), 4)
    by_coder = {r["user"]: r for r in k["by_coder"]}
    assert by_coder["ann"]["charts_per_hour"] == 1.5 and by_coder["ann"]["coded"] == 2
    assert by_coder["bob"]["charts_per_hour"] == round(1 / 3, 4) and by_coder["bob"]["rejected"] == 1
    assert k["by_day"] == [
        {"day": "2026-03-02", "coded": 2, "accepted": 1, "modified": 1, "rejected": 1},
        {"day": "2026-03-03", "coded": 1, "accepted": 1, "modified": 0, "rejected": 0},
    ]
    assert (k["claims"], k["edit_rate"]) == (2, 0.5)
    assert (k["remits"], k["denial_rate"]) == (3, round(1 / 3, 4))

    day2 = kpis.compute(session, date(2026, 3, 2), date(2026, 3, 2))
    assert (day2["coded"], day2["turnaround_hours_median"], day2["decisions"]) == (2, 3.0, 3)
    assert (day2["accuracy"], day2["edit_rate"], day2["denial_rate"]) == (None, None, None)
    day3 = kpis.compute(session, date(2026, 3, 3), date(2026, 3, 3))
    assert day3["turnaround_hours_median"] == round(25 + 20 / 60, 4) and day3["accuracy"] == 0.5


class ProFeeCoder:
    """Diagnoses plus a procedure line and an E/M level, as the professional-fee coder returns them."""

    def code(self, text: str | bytes, options: CodingOptions) -> CodingResult:
        from chartcode.assign.api import CodedDiagnosis, Evidence
        from chartcode.assign.em import EmFlag, EmResult
        from chartcode.assign.services import CodedService

        note = text.decode() if isinstance(text, bytes) else text
        ev = (Evidence(0, 8, note[0:8]),)
        dx = (
            CodedDiagnosis("E11.9", "Type 2 diabetes mellitus without complications", ev, "index", 0.9),
            CodedDiagnosis("E11.22", "Type 2 diabetes mellitus with diabetic CKD", ev, "index", 0.7),
        )
        injection = CodedService(
            "J3301", "HCPCS", ("RT",), 4, (2,), ev, "catalogue", "triamcinolone, 10 mg", 0.8
        )
        flag = EmFlag("EM-TIME", "info", "time not documented", "document total time", "E/M guidelines, time")
        em = EmResult(
            "99214",
            4,
            "office established",
            "MDM",
            "moderate",
            None,
            (),
            ev,
            (flag,),
            "moderate MDM",
            ("25",),
            (1, 2),
        )
        return CodingResult(
            dx,
            "icd10cm-tabular:FY2026",
            None,
            options.policy,
            options.setting,
            procedures=(injection,),
            em=em,
        )


def test_procedures_and_the_em_level_become_suggestions_and_claim_lines(session: Session) -> None:
    ann = user(session, "ann")
    enc, _ = workflow.intake(
        session, ann, item("diabetes follow-up, injection given", patient_age=70), ProFeeCoder()
    )
    by_code = {g.code: g for g in enc.suggestions}
    assert [(g.code, g.system, g.kind) for g in enc.suggestions] == [
        ("E11.9", "ICD-10-CM", "diagnosis"),
        ("E11.22", "ICD-10-CM", "diagnosis"),
        ("J3301", "HCPCS", "procedure"),
        ("99214", "CPT", "em"),
    ]
    assert by_code["J3301"].details == {"modifiers": ["RT"], "units": 4, "dx_codes": ["E11.22"]}
    assert by_code["99214"].details["flags"][0]["id"] == "EM-TIME" and by_code["99214"].confidence is None
    for g in enc.suggestions:
        if g.code == "E11.22":
            enc = workflow.decide(
                session, ann, enc.id, g.id, "modify", enc.version, code="E11.21", reason="r"
            )
        else:
            enc = workflow.decide(session, ann, enc.id, g.id, "accept", enc.version)
    claim = workflow.build_claim(enc)
    assert claim["diagnoses"] == ["E11.9", "E11.21"] and claim["patient"] == {"age": 70}
    assert claim["lines"] == [
        {
            "code": "J3301",
            "modifiers": ["RT"],
            "units": 4,
            "dx_pointers": [2],
        },  # follows the modified diagnosis
        {"code": "99214", "modifiers": ["25"], "units": 1, "dx_pointers": [1, 2]},
    ]
    seen: list[dict[str, object]] = []

    def scrub(c: dict[str, object]) -> list[dict[str, object]]:
        seen.append(c)
        return [
            {
                "rule": "NCCI-MUE",
                "severity": "error",
                "lines": [1],
                "codes": ["J3301"],
                "message": "m",
                "fix": "f",
                "citation": "c",
            }
        ]

    findings = workflow.check_encounter(session, ann, enc.id, scrub)  # type: ignore[arg-type]
    assert seen == [claim] and findings == [
        {"rule": "NCCI-MUE", "severity": "error", "message": "m", "fix": "f", "citation": "c", "line": 1}
    ]
    assert [f.rule for f in workflow.latest_findings(session, enc.id)] == ["NCCI-MUE"]
    logged = session.scalars(select(AuditLog).where(AuditLog.action == "claim.check")).one()
    assert logged.after is not None and "patient" not in logged.after["claim"]
