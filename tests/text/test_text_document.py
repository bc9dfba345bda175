"""Reading plain text, HTML, FHIR R4 and C-CDA documents; malformed inputs (tiny synthetic fixtures)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chartcode.errors import InputError
from chartcode.text import find_mentions, html_to_text, load_document

NOTE = "ASSESSMENT: Pneumonia.\nNo fever."
FIX_FHIR = (
    "send a FHIR R4 DocumentReference (note base64-encoded in content[].attachment.data, contentType "
    "text/plain or text/html), a Composition with section narratives, or a Bundle of them."
)
FIX_CDA = "send a well-formed C-CDA ClinicalDocument (namespace urn:hl7-org:v3) or the note as plain text."


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def docref(*attachments: dict[str, Any]) -> str:
    return json.dumps(
        {
            "resourceType": "DocumentReference",
            "status": "current",
            "content": [{"attachment": a} for a in attachments],
        }
    )


def div(html: str) -> dict[str, str]:
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{html}</div>'}


COMPOSITION = {
    "resourceType": "Composition",
    "status": "final",
    "title": "Progress note",
    "section": [
        {
            "title": "Family history",
            "code": {"coding": [{"system": "http://loinc.org", "code": "10157-6"}]},
            "text": div("<p>Mother: breast cancer.</p>"),
        },
        {
            "title": "Problems",
            "code": {"coding": [{"system": "http://loinc.org", "code": "11450-4"}]},
            "text": div("<ul><li>Asthma</li><li>HTN</li></ul>"),
            "section": [{"title": "Resolved", "text": div("Pneumonia")}],
        },
    ],
}

CDA = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <title>Progress note</title>
  <component><structuredBody>
    <component><section>
      <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>
      <title>Problems</title>
      <text><list><item>Hypertension</item><item>Type 2 diabetes mellitus</item></list></text>
    </section></component>
    <component><section>
      <code code="10157-6" codeSystem="2.16.840.1.113883.6.1"/>
      <title>Family History</title>
      <text><table><thead><tr><th>Relative</th><th>Condition</th></tr></thead>
        <tbody><tr><td>Mother</td><td>Breast cancer</td></tr></tbody></table></text>
    </section></component>
    <component><section>
      <title>Assessment and Plan</title>
      <text><paragraph>Pneumonia, <content styleCode="Bold">no</content> sepsis.</paragraph>
        <paragraph>Return if   fever.</paragraph></text>
      <component><section><title>Plan</title><text>Start antibiotics.</text></section></component>
    </section></component>
  </structuredBody></component>
</ClinicalDocument>"""

CDA_TEXT = (
    "Problems\nHypertension\nType 2 diabetes mellitus\n\n"
    "Family History\nRelative | Condition\nMother | Breast cancer\n\n"
    "Assessment and Plan\nPneumonia, no sepsis.\n\nReturn if fever.\n\n"
    "Plan\nStart antibiotics."
)


def test_plain_text_is_kept_exactly() -> None:
    text = "  Dx:\tpneumonia\r\n\r\nPlan: rest  "
    doc = load_document(text)
    assert (doc.text, doc.kind) == (text, "text")
    assert load_document(text.encode("utf-8")).text == text
    assert load_document(b"\xef\xbb\xbfPlain note").text == "Plain note"
    assert load_document("<5 mm nodule").text == "<5 mm nodule"
    assert load_document("[1, 2]").kind == "text"


def test_html_is_stripped() -> None:
    html = (
        "<html><head><title>x</title></head><body><h2>Assessment</h2><p>Pneumonia &amp; <b>no</b> fever.</p>"
    )
    html += "<script>alert(1)</script><ul><li>HTN</li><li>DM</li></ul></body></html>"
    doc = load_document(html)
    assert doc.kind == "html"
    assert doc.text == "Assessment\n\nPneumonia & no fever.\n\nHTN\nDM"
    assert [s.name for s in doc.sections] == ["assessment"]
    assert load_document("<p>Hi</p>", media_type="text/html").text == "Hi"
    fragment = load_document("<b>Assessment:</b> pneumonia<br>Plan: rest")  # sniffed as HTML
    assert (fragment.kind, fragment.text) == ("html", "Assessment: pneumonia\nPlan: rest")
    assert load_document("<Patient> is a tag-like start").kind == "text"
    assert html_to_text("") == ""


def test_docref_prefers_plain_text_and_decodes_base64() -> None:
    data = docref(
        {"contentType": "text/html", "data": b64("<p>Other rendering</p>")},
        {"contentType": "text/plain; charset=utf-8", "data": b64(NOTE)},
    )
    doc = load_document(data)
    assert (doc.text, doc.kind) == (NOTE, "fhir")
    assert [(m.text, m.negated) for m in find_mentions(doc)] == [("Pneumonia", False), ("fever", True)]
    assert load_document(data.encode(), media_type="application/fhir+json").text == NOTE


def test_docref_html_attachment_and_data_urls() -> None:
    html = "<h2>Assessment</h2><p>Pneumonia.</p><table><tr><td>Asthma</td><td>active</td></tr></table>"
    assert load_document(docref({"contentType": "text/html", "data": b64(html)})).text == (
        "Assessment\n\nPneumonia.\n\nAsthma | active"
    )
    assert load_document(docref({"url": "data:text/plain;base64," + b64("Hi there")})).text == "Hi there"
    assert load_document(docref({"url": "data:text/plain,Hi%20there"})).text == "Hi there"
    latin = docref(
        {"contentType": "text/plain; charset=iso-8859-1", "data": b64("Café note".encode("latin-1"))}
    )
    assert load_document(latin).text == "Café note"


def test_bundle_with_composition_sections() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}}, {"resource": COMPOSITION}],
    }
    doc = load_document(json.dumps(bundle))
    assert (
        doc.text == "Family history\nMother: breast cancer.\n\nProblems\nAsthma\nHTN\n\nResolved\nPneumonia"
    )
    assert [(s.name, s.title, s.declared, s.code) for s in doc.sections] == [
        ("family_history", "Family history", True, "10157-6"),
        ("problem_list", "Problems", True, "11450-4"),
        ("other", "Resolved", True, None),
    ]
    for s in doc.sections:
        assert doc.text[s.start : s.header_end] == s.title
    found = find_mentions(doc)
    assert [(m.text, m.section, m.family) for m in found] == [
        ("breast cancer", "family_history", True),
        ("Asthma", "problem_list", False),
        ("HTN", "problem_list", False),
        ("Pneumonia", "other", False),
    ]


def test_bundle_with_docref_and_composition_in_order() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": json.loads(docref({"contentType": "text/plain", "data": b64("Note one.")}))},
            {
                "resource": {
                    "resourceType": "Composition",
                    "section": [{"title": "Plan", "text": div("Rest.")}],
                }
            },
        ],
    }
    assert load_document(json.dumps(bundle)).text == "Note one.\n\nPlan\nRest."


def test_cda_structured_body() -> None:
    doc = load_document(CDA.encode("utf-8"))
    assert (doc.text, doc.kind) == (CDA_TEXT, "cda")
    assert [(s.name, s.title, s.code) for s in doc.sections] == [
        ("problem_list", "Problems", "11450-4"),
        ("family_history", "Family History", "10157-6"),
        ("assessment_and_plan", "Assessment and Plan", None),
        ("plan", "Plan", None),
    ]
    found = [(m.text, m.section, m.family, m.negated, m.hypothetical) for m in find_mentions(doc)]
    assert found == [
        ("Hypertension", "problem_list", False, False, False),
        ("Type 2 diabetes mellitus", "problem_list", False, False, False),
        ("Breast cancer", "family_history", True, False, False),
        ("Pneumonia", "assessment_and_plan", False, False, False),
        ("sepsis", "assessment_and_plan", False, True, False),
        ("fever", "assessment_and_plan", False, False, True),
    ]
    assert load_document(CDA).text == CDA_TEXT  # a str with an encoding declaration works too


def test_cda_non_xml_body() -> None:
    cda = (
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><component><nonXMLBody>'
        f'<text mediaType="text/plain" representation="B64">{b64(NOTE)}</text>'
        "</nonXMLBody></component></ClinicalDocument>"
    )
    assert load_document(cda).text == NOTE


def test_xml_external_entities_are_not_resolved(tmp_path: Any) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    cda = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody><component><section>'
        "<title>Plan</title><text>Rest &e;.</text></section></component></structuredBody></component>"
        "</ClinicalDocument>"
    )
    assert "SECRET" not in load_document(cda).text


@pytest.mark.parametrize(
    ("data", "media_type", "message"),
    [
        ("", None, "The document is empty (no text after decoding). Fix: send a note that contains text."),
        (
            "  \n\t",
            None,
            "The document is empty (no text after decoding). Fix: send a note that contains text.",
        ),
        (
            b"\xff\xfe\x00bad",
            None,
            "The document is not valid UTF-8 text (byte offset 0). Fix: send the note as UTF-8 text.",
        ),
        (
            '{"resourceType": "DocumentReference", "content": [',
            None,
            "The document looks like JSON but is malformed (Expecting value at line 1, column 51). "
            "Fix: send a valid FHIR R4 JSON resource, or the note as plain text (media type text/plain).",
        ),
        (
            "Patient note with pneumonia",
            "application/fhir+json",
            "The document looks like JSON but is malformed (Expecting value at line 1, column 1). "
            "Fix: send a valid FHIR R4 JSON resource, or the note as plain text (media type text/plain).",
        ),
        (
            '{"resourceType": "Patient", "id": "1"}',
            None,
            "FHIR resource type 'Patient' is not supported; "
            "expected DocumentReference, Composition or Bundle. "
            f"Fix: {FIX_FHIR}",
        ),
        (
            '{"resourceType": "JohnDoe"}',
            None,
            "The FHIR resource type is not supported; expected DocumentReference, Composition or Bundle. "
            f"Fix: {FIX_FHIR}",
        ),
        (
            '{"id": "x"}',
            None,
            "The JSON document has no resourceType; "
            "expected a FHIR R4 DocumentReference, Composition or Bundle. "
            f"Fix: {FIX_FHIR}",
        ),
        (
            docref({"contentType": "text/plain", "data": "%%%not base64"}),
            None,
            "DocumentReference.content[0].attachment.data is not valid base64. "
            "Fix: encode the note with standard base64 (RFC 4648).",
        ),
        (
            docref({"contentType": "text/plain", "data": b64(b"\xff\xfe")}),
            None,
            "DocumentReference.content[0].attachment data is not valid UTF-8 text (byte offset 0). "
            "Fix: send the note as UTF-8 text.",
        ),
        (
            docref({"contentType": "application/pdf", "data": b64("x")}),
            None,
            "DocumentReference has no text/plain or text/html attachment (found application/pdf). "
            f"Fix: {FIX_FHIR}",
        ),
        (
            docref({"contentType": "text/plain", "url": "https://example.org/note.txt"}),
            None,
            "DocumentReference has no content[].attachment with inline data; "
            f"attachments referenced by URL are not fetched. Fix: {FIX_FHIR}",
        ),
        (
            json.dumps({"resourceType": "DocumentReference", "content": "x"}),
            None,
            f"DocumentReference.content must be a JSON array. Fix: {FIX_FHIR}",
        ),
        (
            json.dumps({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}),
            None,
            f"The Bundle contains no DocumentReference or Composition entry. Fix: {FIX_FHIR}",
        ),
        (
            json.dumps({"resourceType": "Composition", "section": []}),
            None,
            "Composition has no section with a title or narrative text (section[].text.div). "
            f"Fix: {FIX_FHIR}",
        ),
        (
            "<ClinicalDocument xmlns='urn:hl7-org:v3'><component>",
            None,
            f"The document looks like XML but is malformed (line 1, column 53). Fix: {FIX_CDA}",
        ),
        (
            '<?xml version="1.0"?><Patient><name>x</name></Patient>',
            None,
            "The XML root element is not a C-CDA ClinicalDocument (namespace urn:hl7-org:v3). "
            f"Fix: {FIX_CDA}",
        ),
        (
            "<ClinicalDocument><component/></ClinicalDocument>",
            None,
            f"The XML root element ClinicalDocument is not in namespace urn:hl7-org:v3. Fix: {FIX_CDA}",
        ),
        (
            "<ClinicalDocument xmlns='urn:hl7-org:v3'><component><structuredBody/></component>"
            "</ClinicalDocument>",
            None,
            "The ClinicalDocument has no structuredBody section with a title or narrative text, and no "
            f"nonXMLBody text. Fix: {FIX_CDA}",
        ),
        (
            "note",
            "application/pdf",
            "Unsupported media type (application/pdf). "
            "Fix: use text/plain, text/html, application/fhir+json or application/xml (C-CDA).",
        ),
    ],
)
def test_malformed_inputs(data: str | bytes, media_type: str | None, message: str) -> None:
    with pytest.raises(InputError) as info:
        load_document(data, media_type=media_type)
    assert str(info.value) == f"[CC150] {message}"
    assert info.value.code == "CC150"


def test_error_messages_never_quote_the_note() -> None:
    phi = "John Q Patient 1960-01-01 MRN 12345"
    bad_inputs: list[tuple[str | bytes, str | None]] = [
        ('{"resourceType": "DocumentReference", "text": "' + phi, None),
        (json.dumps({"resourceType": phi}), None),
        (f"<?xml version='1.0'?><{phi.split()[0]}>{phi}</{phi.split()[0]}x>", None),
        (f"<?xml version='1.0'?><{phi.split()[0]}>{phi}</{phi.split()[0]}>", None),
        (json.dumps({"resourceType": phi.split()[0]}), None),
        (docref({"contentType": "text/plain", "data": phi}), None),
        (phi, f"application/{phi}"),
        ((phi + "\xff").encode("latin-1"), None),
    ]
    for data, media_type in bad_inputs:
        with pytest.raises(InputError) as info:
            load_document(data, media_type=media_type)
        for word in ("John", "1960", "12345"):
            assert word not in str(info.value)
