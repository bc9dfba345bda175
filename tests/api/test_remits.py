"""POST /api/remits (835 in), the encounter's remittance, the denials work queue and remittance KPIs."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from chartcode.review import workflow
from chartcode.review.workflow import DocumentInput, EncounterInput
from chartcode.store.models import AuditLog, Remit, RemitLine
from chartcode.store.models import Remittance as RemittanceRow
from tests.api.conftest import Api
from tests.api.remit835 import Clp, Payment, Svc, build_835, denial_payment
from tests.assign.fake_coder import FakeCoder

X12 = {"Content-Type": "application/edi-x12"}


def billed(api: Api, codes: tuple[str, ...] = ("99213", "20610", "J3301")) -> int:
    """A completed encounter with one diagnosis and the procedure codes ``codes`` (claim lines 1, 2, …)."""
    coder = api.user("coder", "coder")
    with api.session() as db:
        enc, _ = workflow.intake(
            db,
            coder,
            EncounterInput(documents=(DocumentInput("diabetes"),), date_of_service=date(2026, 1, 5)),
            FakeCoder(0),
        )
        for g in enc.suggestions:
            enc = workflow.decide(db, coder, enc.id, g.id, "accept", enc.version)
        for code in codes:
            enc = workflow.add_code(db, coder, enc.id, code, "documented in the note", enc.version)
        return workflow.complete(db, coder, enc.id, enc.version).id


def exported(api: Api, encounter_id: int) -> dict[str, Any]:
    r = api.client.get(f"/api/encounters/{encounter_id}/claim", headers=api.headers("coder"))
    assert r.status_code == 200, r.text
    claim: dict[str, Any] = r.json()["claim"]
    return claim


def post(api: Api, text: str, role: str = "manager") -> Any:
    return api.client.post(
        "/api/remits", files={"file": ("era.835", text.encode())}, headers=api.headers(role)
    )


def counts(api: Api) -> tuple[int, int, int, int]:
    with api.session() as db:
        return (
            db.scalar(select(func.count(RemittanceRow.id))) or 0,
            db.scalar(select(func.count(Remit.id))) or 0,
            db.scalar(select(func.count(RemitLine.id))) or 0,
            db.scalar(select(func.count(AuditLog.id)).where(AuditLog.action.like("remit.%"))) or 0,
        )


def test_an_835_is_matched_to_the_encounters_claim_and_its_denials_classified(api: Api) -> None:
    enc_id = billed(api)
    claim = exported(api, enc_id)
    assert claim["id"] == f"ENC-{enc_id}" and [line["code"] for line in claim["lines"]] == [
        "99213",
        "20610",
        "J3301",
    ]
    r = post(api, build_835(denial_payment(claim)))
    assert r.status_code == 201, r.text
    summary = r.json()
    assert {k: summary[k] for k in ("remittances", "already_posted", "claims", "claims_matched")} == {
        "remittances": 1,
        "already_posted": 0,
        "claims": 1,
        "claims_matched": 1,
    }
    assert (summary["claims_unmatched"], summary["lines"], summary["lines_matched"]) == (0, 3, 3)
    assert (summary["denied_lines"], summary["coding_denials"], summary["claims_denied"]) == (2, 2, 0)
    assert summary["paid"] == 80.0 and summary["encounters"] == [enc_id]

    [remit] = api.detail(enc_id)["remits"]
    assert (remit["claim_number"], remit["status"], remit["paid"], remit["trace_number"]) == (
        f"ENC-{enc_id}",
        "partial",
        80.0,
        "TRC9001",
    )
    assert remit["payment_date"] == "2026-02-06" and remit["payer"] == "TEST HEALTH PLAN"
    lines = {line["code"]: line for line in remit["lines"]}
    assert [line["line_number"] for line in remit["lines"]] == [1, 2, 3]
    paid = lines["99213"]
    assert (paid["paid"], paid["denied"], paid["category"]) == (80.0, False, None)
    assert paid["adjustments"][0]["key"] == "CO-45" and paid["adjustments"][0]["denial"] is False
    bundled = lines["20610"]
    assert (bundled["denied"], bundled["coding_denial"], bundled["category"]) == (True, True, "bundling")
    assert bundled["adjustments"][0]["key"] == "CO-97" and "NCCI" in bundled["category_label"]
    assert bundled["remarks"] == [{"code": "M15", "label": bundled["remarks"][0]["label"]}]
    assert bundled["remarks"][0]["label"] and "CARC) 97" in bundled["adjustments"][0]["citation"]
    assert "NCCI" in bundled["action"] and "59" in bundled["action"]
    invalid = lines["J3301"]
    assert (invalid["category"], invalid["adjustments"][0]["remark"]) == ("invalid_code", "M51")
    assert invalid["action"] and invalid["adjustments"][0]["description"]


def test_the_denials_queue_filters_by_category_and_coding(api: Api) -> None:
    enc_id = billed(api)
    other = billed(api, ("99214",))
    assert post(api, build_835(denial_payment(exported(api, enc_id)))).status_code == 201
    whole = Payment(
        [Clp(f"ENC-{other}", "4", (), (("CO", "29", "200"),), charge="200")], trace="TRC9002"
    )  # timely filing, the claim denied as a whole: not coding's to fix
    assert post(api, build_835(whole)).status_code == 201
    h = api.headers("coder")
    coding = api.client.get("/api/remits?coding_related=true", headers=h).json()
    assert coding["total"] == 2
    assert {(i["encounter_id"], i["code"], i["category"]) for i in coding["items"]} == {
        (enc_id, "20610", "bundling"),
        (enc_id, "J3301", "invalid_code"),
    }
    assert all(i["action"] and i["adjustments"] for i in coding["items"])
    others = api.client.get("/api/remits?coding_related=false", headers=h).json()
    assert others["total"] == 1
    [claim_denial] = others["items"]
    assert (claim_denial["line_id"], claim_denial["encounter_id"], claim_denial["category"]) == (
        None,
        other,
        "timely_filing",
    )
    bundling = api.client.get("/api/remits?category=bundling", headers=h).json()
    assert [i["code"] for i in bundling["items"]] == ["20610"]
    everything = api.client.get("/api/remits", headers=h).json()
    assert everything["total"] == 3 and everything["items"][0]["encounter_id"] == other  # newest first
    paged = api.client.get("/api/remits?limit=1&offset=1", headers=h).json()
    assert paged["total"] == 3 and len(paged["items"]) == 1
    assert paged["items"][0]["remit_id"] == everything["items"][1]["remit_id"]
    assert api.detail(other)["remits"][0]["status"] == "denied"


def test_reposting_the_same_835_stores_nothing_again(api: Api) -> None:
    text = build_835(denial_payment(exported(api, billed(api))))
    h = api.headers("admin") | X12
    first = api.client.post("/api/remits", content=text.encode(), headers=h)  # the raw body form
    assert first.status_code == 201, first.text
    stored = counts(api)
    assert stored[:3] == (1, 1, 3)
    again = api.client.post("/api/remits", content=text.encode(), headers=h)
    assert again.status_code == 200, again.text
    assert (again.json()["remittances"], again.json()["already_posted"], again.json()["claims"]) == (0, 1, 0)
    assert counts(api) == stored
    assert post(api, text).status_code == 200  # the multipart form too
    assert counts(api) == stored
    assert api.client.get("/api/remits", headers=h).json()["total"] == 2


def test_a_malformed_835_is_422_with_the_segment_and_stores_nothing(api: Api) -> None:
    text = build_835(denial_payment(exported(api, billed(api))))
    segments = text.split("~\n")
    number = next(i for i, seg in enumerate(segments, start=1) if seg.startswith("SVC*HC:20610"))
    broken = text.replace("SVC*HC:20610*150*0", "SVC*HC:20610*15O*0")
    r = post(api, broken)
    assert r.status_code == 422, r.text
    [problem] = r.json()["detail"]
    assert problem["code"] == "CC612" and problem["segment"] == number
    assert problem["loc"] == ["body", "file", "segment", number]
    assert f"segment {number}" in problem["msg"] and problem["fix"]
    assert counts(api) == (0, 0, 0, 0)

    truncated = post(api, text[: text.index("SE*")])
    assert truncated.status_code == 422 and truncated.json()["detail"][0]["code"] == "CC612"
    empty = api.client.post("/api/remits", content=b"", headers=api.headers("manager") | X12)
    assert empty.status_code == 422 and empty.json()["detail"][0]["code"] == "CC613"
    no_file = api.client.post(
        "/api/remits", files={"other": ("x.txt", b"ISA")}, headers=api.headers("manager")
    )
    assert no_file.status_code == 422 and "'file'" in no_file.json()["detail"][0]["msg"]
    binary = api.client.post("/api/remits", content=b"\xff\xfe\x00", headers=api.headers("manager") | X12)
    assert binary.status_code == 422 and binary.json()["detail"][0]["code"] == "CC613"
    not_x12 = api.client.post("/api/remits", content=b"NOT X12 AT ALL", headers=api.headers("manager") | X12)
    assert not_x12.status_code == 422 and not_x12.json()["detail"][0]["segment"] == 1
    assert "NOT X12" not in not_x12.text  # nothing of the body is quoted back
    assert counts(api) == (0, 0, 0, 0)


def test_claim_payments_for_no_stored_encounter_are_reported_unmatched(api: Api) -> None:
    enc_id = billed(api, ("99213",))
    payment = Payment(
        [
            Clp(f"ENC-{enc_id}", "1", (Svc("99213", "120", "120"),)),
            Clp("ENC-999999", "1", (Svc("99213", "120", "120"),)),
            Clp("RC-ELSEWHERE-7", "1", (Svc("99214", "200", "200"),)),
        ]
    )
    r = post(api, build_835(payment), role="auditor")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["claims"], body["claims_matched"], body["claims_unmatched"]) == (3, 1, 2)
    assert body["unmatched_claim_ids"] == ["ENC-999999", "RC-ELSEWHERE-7"]
    assert (body["lines"], body["lines_matched"], body["denied_lines"]) == (3, 1, 0)
    [remit] = api.detail(enc_id)["remits"]
    assert remit["status"] == "paid" and remit["lines"][0]["match"] == "exact"


def test_a_line_the_claim_does_not_have_is_stored_unmatched_with_a_note(api: Api) -> None:
    enc_id = billed(api, ("99213",))
    payment = Payment([Clp(f"ENC-{enc_id}", "1", (Svc("99213", "120", "120"), Svc("36415", "15", "15")))])
    assert post(api, build_835(payment)).status_code == 201
    [remit] = api.detail(enc_id)["remits"]
    extra = remit["lines"][1]
    assert (extra["code"], extra["line_number"], extra["match"]) == ("36415", None, "unmatched")
    assert extra["match_notes"]


def test_remittance_kpis_come_from_the_stored_remits(api: Api) -> None:
    kpi = api.client.get("/api/kpis", headers=api.headers("manager")).json()
    assert (kpi["remits"], kpi["denial_rate"], kpi["first_pass_resolution"]) == (0, None, None)
    denied = billed(api)
    clean = billed(api, ("99213",))
    assert post(api, build_835(denial_payment(exported(api, denied)))).status_code == 201
    paid = Payment(
        [Clp(f"ENC-{clean}", "1", (Svc("99213", "120", "100", adjustments=(("CO", "45", "20"),)),))]
    )
    assert post(api, build_835(Payment(paid.claims, trace="TRC9003"))).status_code == 201
    kpi = api.client.get("/api/kpis", headers=api.headers("manager")).json()
    assert (kpi["remits"], kpi["remit_lines"]) == (2, 4)
    assert kpi["denial_rate"] == 0.5  # one of two claim payments has a denied line
    assert kpi["coding_denial_rate"] == 0.5
    assert kpi["line_denial_rate"] == 0.5  # 2 of 4 lines
    assert kpi["first_pass_resolution"] == 0.5  # the clean claim
    # completed today, paid on 2026-02-06: a payment dated before the claim gives no days to pay
    assert kpi["days_to_pay_median"] is None


def test_the_audit_log_records_the_post_without_the_patient(api: Api) -> None:
    enc_id = billed(api)
    r = post(api, build_835(denial_payment(exported(api, enc_id))))
    assert r.status_code == 201
    audit = api.client.get("/api/audit", headers=api.headers("manager")).json()["items"]
    posted = [a for a in audit if a["action"] == "remit.post"]
    received = [a for a in audit if a["action"] == "remit.receive"]
    assert (
        len(posted) == 1
        and posted[0]["user"] == "manager"
        and posted[0]["after"]["trace_number"] == "TRC9001"
    )
    assert len(received) == 1 and received[0]["encounter_id"] == enc_id
    assert received[0]["after"]["carcs"] == ["CO-16", "CO-45", "CO-97"]
    for text in (json.dumps(audit), r.text, json.dumps(api.detail(enc_id)["remits"])):
        assert "PATIENT" not in text and "M000001" not in text


def test_an_error_in_the_patient_segment_does_not_quote_the_patient(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    text = build_835(denial_payment(exported(api, billed(api))))
    broken = text.replace("NM1*QC*1*PATIENT*TEST****MI*M000001", "NM1*QC*9*PATIENT*TEST****ZZ*M000001")
    with caplog.at_level(logging.DEBUG):
        r = post(api, broken)
    assert r.status_code == 422, r.text
    problem = r.json()["detail"][0]
    assert problem["code"] == "CC612" and problem["segment"] == 18  # ISA=1 … LX=16, CLP=17, NM1=18
    for leaked in (r.text, caplog.text):
        assert "PATIENT" not in leaked and "M000001" not in leaked
    assert counts(api) == (0, 0, 0, 0)


def test_an_unusable_upload_body_is_422_with_the_fix_and_stores_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = api.headers("manager")
    text = build_835(denial_payment(exported(api, billed(api))))

    def problem(r: Any) -> dict[str, Any]:
        assert r.status_code == 422, r.text
        [item] = r.json()["detail"]
        assert item["code"] == "CC613" and item["fix"]
        return item  # type: ignore[no-any-return]

    nul = api.client.post("/api/remits", content=text.encode() + b"\x00", headers=h | X12)
    assert "NUL" in problem(nul)["msg"]
    garbled = api.client.post(
        "/api/remits",
        content=b"--b\r\nContent-Disposition: form-data\r\n\r\nno closing boundary",
        headers=h | {"Content-Type": "multipart/form-data"},  # and no boundary parameter
    )
    item = problem(garbled)
    assert "multipart form could not be read" in item["msg"] and "'file'" in item["fix"]
    monkeypatch.setattr("chartcode.review.remits.MAX_BYTES", 100)
    too_big = problem(api.client.post("/api/remits", content=text.encode(), headers=h | X12))
    assert "the limit is 100 bytes" in too_big["msg"] and "split" in too_big["fix"]
    too_big_file = problem(post(api, text))
    assert "the limit is 100 bytes" in too_big_file["msg"]
    assert counts(api) == (0, 0, 0, 0)
