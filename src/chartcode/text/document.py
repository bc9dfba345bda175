"""Reading a clinical document: plain text, HTML, FHIR R4 (DocumentReference, Composition, Bundle)
or C-CDA XML, into one :class:`Document` with sections, sentences and the abbreviation-expanded view.

Offsets: every span (section, sentence, mention) is ``(start, end)`` into ``Document.text``.

* Plain text: ``Document.text`` is the input exactly (bytes are decoded as UTF-8, BOM dropped).
* HTML (``text/html`` input or attachment): tags stripped; block elements (``p``, ``div``,
  headings, lists, tables) start new lines, paragraphs are separated by a blank line, table cells
  are joined with ``" | "``, runs of white space collapse to one space; ``script``/``style`` dropped.
* FHIR DocumentReference: the first ``content[].attachment`` with ``contentType`` text/plain, else
  text/html, read from ``data`` (base64) or an inline ``url`` of the form ``data:...``. Other URLs
  are never fetched.
* FHIR Composition: for each ``section`` (depth first, nested sections after their parent) a line
  with its ``title``, then its ``text.div`` narrative as HTML above; sections are separated by a
  blank line. The title line is a *declared* section header (named from ``section.code`` LOINC,
  else the title).
* FHIR Bundle: its DocumentReference and Composition entries in order, separated by a blank line.
* C-CDA: ``ClinicalDocument/component/structuredBody/component/section`` like a Composition
  section (``title``, ``code/@code``, ``text`` narrative: ``paragraph``, ``list/item``,
  ``table/tr/td``, ``br``, ``content`` rendered like the HTML elements above); or
  ``nonXMLBody/text`` (plain or base64 ``text/plain``/``text/html``).

Errors are :class:`~chartcode.errors.InputError`; messages name the problem and the fix and never
quote the note.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from chartcode.errors import InputError
from chartcode.text.abbreviations import AbbreviationTable, ExpandedText, expand
from chartcode.text.sections import DeclaredHeader, Section, SectionRules, detect_sections
from chartcode.text.sentences import Sentence, split_sentences

__all__ = ["Document", "build_document", "html_to_text", "load_document"]

CDA_NS = "urn:hl7-org:v3"
_NS = {"h": CDA_NS}
_LOINC_OID = "2.16.840.1.113883.6.1"

_FIX_TEXT = "send the note as UTF-8 text."
_FIX_FHIR = (
    "send a FHIR R4 DocumentReference (note base64-encoded in content[].attachment.data, contentType "
    "text/plain or text/html), a Composition with section narratives, or a Bundle of them."
)
_FIX_CDA = "send a well-formed C-CDA ClinicalDocument (namespace urn:hl7-org:v3) or the note as plain text."

_MEDIA_TYPES = {
    "text/plain": "text",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/fhir+json": "fhir",
    "application/json+fhir": "fhir",
    "application/json": "fhir",
    "application/xml": "cda",
    "text/xml": "cda",
    "application/hl7-v3+xml": "cda",
    "application/hl7-cda+xml": "cda",
    "application/fhir+xml": "unsupported",
}


@dataclass(frozen=True, slots=True)
class Document:
    """A clinical document. ``kind`` is ``text``, ``html``, ``fhir`` or ``cda``."""

    text: str
    kind: str
    sections: tuple[Section, ...]
    sentences: tuple[Sentence, ...]
    expanded: ExpandedText = field(repr=False, compare=False)
    _section_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _sentence_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_section_starts", tuple(s.start for s in self.sections))
        object.__setattr__(self, "_sentence_starts", tuple(s.start for s in self.sentences))

    def section_at(self, offset: int) -> Section | None:
        """The section holding ``offset`` (None before the first header)."""
        k = bisect_right(self._section_starts, offset) - 1
        return self.sections[k] if k >= 0 and offset < self.sections[k].end else None

    def sentence_at(self, offset: int) -> Sentence | None:
        """The sentence holding ``offset`` (None in white space between sentences)."""
        k = bisect_right(self._sentence_starts, offset) - 1
        return self.sentences[k] if k >= 0 and offset < self.sentences[k].end else None


def build_document(
    text: str,
    *,
    kind: str = "text",
    declared: Sequence[DeclaredHeader] = (),
    section_rules: SectionRules | None = None,
    abbreviations: AbbreviationTable | None = None,
) -> Document:
    """Sections, sentences and the expanded view of ``text`` (no emptiness check, unlike
    :func:`load_document`)."""
    sections = detect_sections(text, section_rules, declared)
    spans = split_sentences(text, [(s.start, s.header_end) for s in sections])
    starts = [s.start for s in sections]
    sentences = []
    for index, (a, b, is_header) in enumerate(spans):
        k = bisect_right(starts, a) - 1
        name = sections[k].name if k >= 0 and a < sections[k].end else None
        sentences.append(Sentence(index, a, b, name, is_header))
    return Document(text, kind, sections, tuple(sentences), expand(text, spans, abbreviations))


def load_document(
    data: str | bytes,
    *,
    media_type: str | None = None,
    section_rules: SectionRules | None = None,
    abbreviations: AbbreviationTable | None = None,
) -> Document:
    """Read ``data``; the kind is ``media_type`` if given, else sniffed: ``{...}`` is FHIR JSON; XML
    with a declaration or a ``ClinicalDocument`` root is C-CDA; ``<html>``, ``<!DOCTYPE html>`` or a
    leading HTML tag (``<p>``, ``<div>``...) is HTML; anything else is plain text."""
    if not isinstance(data, str | bytes):
        raise InputError(f"The document must be str or bytes, not {type(data).__name__}.", _FIX_TEXT)
    kind = _kind(data, media_type)
    declared: list[DeclaredHeader] = []
    if kind == "text":
        text = _decode(data, "The document")
    elif kind == "html":
        text = html_to_text(_decode(data, "The document"))
    elif kind == "fhir":
        asm = _Assembler()
        _read_fhir(_parse_json(data), asm)
        text, declared = asm.result()
    else:
        root = _parse_xml(data)
        if _is_html_root(root):
            kind = "html"
            text = html_to_text(_decode(data, "The document"))
        else:
            asm = _Assembler()
            _read_cda(root, asm)
            text, declared = asm.result()
    if not text.strip():
        raise InputError("The document is empty (no text after decoding).", "send a note that contains text.")
    return build_document(
        text, kind=kind, declared=declared, section_rules=section_rules, abbreviations=abbreviations
    )


# --- sniffing and decoding -----------------------------------------------------------------------


_CDA_ROOT = re.compile(r"<(?:[\w.-]+:)?ClinicalDocument\b")
_HTML_START = re.compile(
    r"<(?:p|div|span|b|i|u|em|strong|font|br|hr|h[1-6]|ul|ol|li|table|body|pre|section)\b[^>]*>"
)


def _kind(data: str | bytes, media_type: str | None) -> str:
    if media_type is not None:
        base = media_type.split(";", 1)[0].strip().lower()
        kind = _MEDIA_TYPES.get(base)
        if kind is None or kind == "unsupported":
            shown = base if re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", base) else "given"
            raise InputError(
                f"Unsupported media type ({shown}).",
                "use text/plain, text/html, application/fhir+json or application/xml (C-CDA).",
            )
        return kind
    head = data[:2048]
    if isinstance(head, bytes):
        head = head.decode("utf-8", "ignore")
    head = head.lstrip("\ufeff \t\r\n")
    if head.startswith("{"):
        return "fhir"
    if not head.startswith("<"):
        return "text"
    low = head.lower()
    if low.startswith(("<!doctype html", "<html")):
        return "html"
    if low.startswith(("<?xml", "<!--")) or _CDA_ROOT.search(head):
        return "cda"
    if _HTML_START.match(low):
        return "html"
    return "text"  # e.g. "<5 mm nodule"


def _decode(data: str | bytes, what: str, charset: str = "utf-8") -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig" if charset.lower().replace("_", "-") in ("utf-8", "utf8") else charset)
    except LookupError as exc:
        shown = charset if re.fullmatch(r"[A-Za-z0-9._-]{1,40}", charset) else "given"
        raise InputError(f"{what} declares an unknown character set ({shown}).", _FIX_TEXT) from exc
    except UnicodeDecodeError as exc:
        shown = "UTF-8" if charset.lower().replace("_", "-") in ("utf-8", "utf8") else charset
        raise InputError(f"{what} is not valid {shown} text (byte offset {exc.start}).", _FIX_TEXT) from exc


# --- HTML / narrative ----------------------------------------------------------------------------

_PARAGRAPH = frozenset(
    [
        "p",
        "paragraph",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "list",
        "table",
        "blockquote",
        "pre",
        "caption",
        "section",
        "article",
        "header",
        "footer",
        "dl",
        "body",
    ]
)
_LINE = frozenset(["li", "item", "tr", "br", "dt", "dd", "hr"])
_CELL = frozenset(("td", "th"))
_SKIP = frozenset(["script", "style", "head", "template", "noscript", "rendermultimedia"])
_SPACES = re.compile(r"\s+")
_HTML_ROOTS = frozenset(
    ["html", "body", "div", "p", "span", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"]
)


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return (tag.rsplit("}", 1)[-1] if "}" in tag else tag).lower()


def narrative_text(root: etree._Element) -> str:
    """Plain text of an HTML/XHTML/CDA narrative element (see the module docstring for the layout)."""
    lines: list[str] = []
    current: list[str] = []

    def flush(paragraph: bool) -> None:
        line = "".join(current).strip()
        current.clear()
        if line:
            lines.append(line)
        if paragraph and lines and lines[-1] != "":
            lines.append("")

    def add(text: str | None) -> None:
        if text:
            current.append(_SPACES.sub(" ", text))

    stack: list[tuple[etree._Element, bool]] = [(root, False)]
    while stack:
        el, closing = stack.pop()
        name = _local(el)
        if closing:
            if name in _PARAGRAPH:
                flush(True)
            elif name in _LINE:
                flush(False)
            if el is not root:
                add(el.tail)
            continue
        if not name or name in _SKIP:  # comment, processing instruction, script...
            if el is not root:
                add(el.tail)
            continue
        if name in _PARAGRAPH:
            flush(True)
        elif name in _LINE:
            flush(False)
        elif name in _CELL and "".join(current).strip():
            current.append(" | ")
        add(el.text)
        stack.append((el, True))
        stack.extend((child, False) for child in reversed(el))
    flush(False)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines)


def html_to_text(html: str) -> str:
    """Plain text of an HTML document or fragment."""
    if not html.strip():
        return ""
    parser = etree.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, recover=True)
    try:
        root = etree.fromstring(html, parser)
    except (etree.ParserError, ValueError) as exc:
        raise InputError(
            "The HTML narrative cannot be parsed.", "send well-formed HTML or plain text."
        ) from exc
    return "" if root is None else narrative_text(root)


class _Assembler:
    """Builds ``Document.text`` from structured sections and records the declared headers."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.declared: list[DeclaredHeader] = []

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def _separate(self) -> None:
        if self.parts:
            self._append("\n\n")

    def add_text(self, body: str) -> None:
        body = body.strip("\n")
        if body.strip():
            self._separate()
            self._append(body)

    def add_section(self, title: str | None, code: str | None, body: str) -> None:
        title = _SPACES.sub(" ", title).strip() if title else ""
        body = body.strip("\n")
        if not title and not body.strip():
            return
        self._separate()
        if title:
            self.declared.append(DeclaredHeader(self.length, self.length + len(title), title, code))
            self._append(title)
            if body.strip():
                self._append("\n")
        if body.strip():
            self._append(body)

    def result(self) -> tuple[str, list[DeclaredHeader]]:
        return "".join(self.parts), self.declared


# --- FHIR ----------------------------------------------------------------------------------------

_KNOWN_FHIR_TYPES = frozenset(
    {
        "AllergyIntolerance",
        "Basic",
        "Binary",
        "CarePlan",
        "Claim",
        "Communication",
        "Condition",
        "Coverage",
        "DiagnosticReport",
        "DocumentManifest",
        "Encounter",
        "ExplanationOfBenefit",
        "Immunization",
        "List",
        "Location",
        "Media",
        "MedicationRequest",
        "MedicationStatement",
        "Observation",
        "OperationOutcome",
        "Organization",
        "Parameters",
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Procedure",
        "Provenance",
        "QuestionnaireResponse",
        "ServiceRequest",
    }
)


def _parse_json(data: str | bytes) -> Any:
    text = _decode(data, "The document")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"The document looks like JSON but is malformed "
            f"({exc.msg} at line {exc.lineno}, column {exc.colno}).",
            "send a valid FHIR R4 JSON resource, or the note as plain text (media type text/plain).",
        ) from exc
    except RecursionError as exc:
        raise InputError("The JSON document is nested too deeply.", _FIX_FHIR) from exc


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{where} must be a JSON array.", _FIX_FHIR)
    return value


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{where} must be a JSON object.", _FIX_FHIR)
    return value


def _opt_str(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{where} must be a string.", _FIX_FHIR)
    return value


def _read_fhir(obj: Any, asm: _Assembler) -> None:
    if not isinstance(obj, dict):
        raise InputError(
            "The JSON document is not a FHIR resource (the top level is not an object).", _FIX_FHIR
        )
    rtype = obj.get("resourceType")
    if rtype is None:
        raise InputError(
            "The JSON document has no resourceType; "
            "expected a FHIR R4 DocumentReference, Composition or Bundle.",
            _FIX_FHIR,
        )
    if rtype == "DocumentReference":
        asm.add_text(_document_reference_text(obj, "DocumentReference"))
    elif rtype == "Composition":
        _read_composition(obj, asm, "Composition")
    elif rtype == "Bundle":
        found = 0
        for i, entry in enumerate(_list(obj.get("entry"), "Bundle.entry")):
            resource = _obj(entry, f"Bundle.entry[{i}]").get("resource")
            if not isinstance(resource, dict):
                continue
            where = f"Bundle.entry[{i}].resource"
            if resource.get("resourceType") == "DocumentReference":
                asm.add_text(_document_reference_text(resource, where))
                found += 1
            elif resource.get("resourceType") == "Composition":
                _read_composition(resource, asm, where)
                found += 1
        if not found:
            raise InputError("The Bundle contains no DocumentReference or Composition entry.", _FIX_FHIR)
    else:
        # only a known resource type name is echoed: the field could hold anything
        shown = f"FHIR resource type '{rtype}'" if rtype in _KNOWN_FHIR_TYPES else "The FHIR resource type"
        raise InputError(
            f"{shown} is not supported; expected DocumentReference, Composition or Bundle.", _FIX_FHIR
        )


def _document_reference_text(obj: dict[str, Any], where: str) -> str:
    candidates: list[tuple[int, int, str, dict[str, Any]]] = []  # (preference, position, type, attachment)
    types: list[str] = []
    for i, content in enumerate(_list(obj.get("content"), f"{where}.content")):
        attachment = _obj(
            _obj(content, f"{where}.content[{i}]").get("attachment"), f"{where}.content[{i}].attachment"
        )
        declared = _opt_str(attachment.get("contentType"), f"{where}.content[{i}].attachment.contentType")
        base = (declared or "").split(";", 1)[0].strip().lower()
        data = _opt_str(attachment.get("data"), f"{where}.content[{i}].attachment.data")
        url = _opt_str(attachment.get("url"), f"{where}.content[{i}].attachment.url")
        if data is None and url is not None and url.startswith("data:"):
            header = url[5:].split(",", 1)[0]
            if not base:
                base = header.split(";", 1)[0].strip().lower()
        elif data is None:
            continue  # an external URL: never fetched
        if base and re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", base):
            types.append(base)
        if base in ("text/plain", "", "text/html", "application/xhtml+xml"):
            preference = 0 if base == "text/plain" else 1 if base == "" else 2
            candidates.append((preference, i, base, attachment))
    if not candidates:
        if types:
            raise InputError(
                f"{where} has no text/plain or text/html attachment (found {', '.join(sorted(set(types)))}).",
                _FIX_FHIR,
            )
        raise InputError(
            f"{where} has no content[].attachment with inline data; "
            "attachments referenced by URL are not fetched.",
            _FIX_FHIR,
        )
    _, i, base, attachment = min(candidates, key=lambda c: (c[0], c[1]))
    label = f"{where}.content[{i}].attachment"
    charset = "utf-8"
    content_type = attachment.get("contentType") or ""
    found = re.search(r"charset\s*=\s*\"?([^\";\s]+)", content_type, re.IGNORECASE)
    if found:
        charset = found.group(1)
    if attachment.get("data") is not None:
        raw = _b64(attachment["data"], f"{label}.data")
    else:
        url = attachment["url"]
        header, _, payload = url[5:].partition(",")
        if header.endswith(";base64"):
            raw = _b64(payload, f"{label}.url")
        else:
            from urllib.parse import unquote_to_bytes

            raw = unquote_to_bytes(payload)
        found = re.search(r"charset=([^;,]+)", header, re.IGNORECASE)
        if found:
            charset = found.group(1)
    text = _decode(raw, f"{label} data", charset)
    if base in ("text/html", "application/xhtml+xml") or (not base and text.lstrip()[:1] == "<"):
        return html_to_text(text)
    return text


def _b64(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(re.sub(r"\s+", "", value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(
            f"{where} is not valid base64.", "encode the note with standard base64 (RFC 4648)."
        ) from exc


def _coding_code(code: Any, where: str) -> str | None:
    if not isinstance(code, dict):
        return None
    codings = _list(code.get("coding"), f"{where}.coding")
    for coding in codings:
        if isinstance(coding, dict) and coding.get("system") in (None, "http://loinc.org"):
            value = coding.get("code")
            if isinstance(value, str):
                return value
    return None


def _read_composition(obj: dict[str, Any], asm: _Assembler, where: str) -> None:
    before = asm.length
    stack: list[tuple[str, Any]] = [
        (f"{where}.section[{i}]", s)
        for i, s in reversed(list(enumerate(_list(obj.get("section"), f"{where}.section"))))
    ]
    while stack:
        path, section = stack.pop()
        sec = _obj(section, path)
        title = _opt_str(sec.get("title"), f"{path}.title")
        narrative = sec.get("text")
        body = ""
        if narrative is not None:
            div = _opt_str(_obj(narrative, f"{path}.text").get("div"), f"{path}.text.div")
            body = html_to_text(div) if div else ""
        asm.add_section(title, _coding_code(sec.get("code"), f"{path}.code"), body)
        nested = _list(sec.get("section"), f"{path}.section")
        stack.extend((f"{path}.section[{i}]", s) for i, s in reversed(list(enumerate(nested))))
    if asm.length == before:  # no sections: fall back on the resource narrative
        narrative = obj.get("text")
        if isinstance(narrative, dict) and isinstance(narrative.get("div"), str):
            asm.add_text(html_to_text(narrative["div"]))
    if asm.length == before:
        raise InputError(
            f"{where} has no section with a title or narrative text (section[].text.div).", _FIX_FHIR
        )


# --- C-CDA ---------------------------------------------------------------------------------------

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _parse_xml(data: str | bytes) -> etree._Element:
    if isinstance(data, str):
        data = _XML_DECLARATION.sub("", data, count=1).encode("utf-8")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise InputError(
            f"The document looks like XML but is malformed (line {line}, column {column}).", _FIX_CDA
        ) from exc


def _is_html_root(root: etree._Element) -> bool:
    tag = root.tag if isinstance(root.tag, str) else ""
    namespace = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    return namespace in ("", "http://www.w3.org/1999/xhtml") and _local(root) in _HTML_ROOTS


def _read_cda(root: etree._Element, asm: _Assembler) -> None:
    if root.tag != f"{{{CDA_NS}}}ClinicalDocument":
        if etree.QName(root).localname == "ClinicalDocument":
            problem = f"The XML root element ClinicalDocument is not in namespace {CDA_NS}."
        else:  # element names are not echoed: they could be anything
            problem = f"The XML root element is not a C-CDA ClinicalDocument (namespace {CDA_NS})."
        raise InputError(problem, _FIX_CDA)
    body = root.find("h:component/h:structuredBody", _NS)
    if body is not None:
        stack = list(reversed(body.findall("h:component/h:section", _NS)))
        while stack:
            section = stack.pop()
            title_el = section.find("h:title", _NS)
            title = "".join(str(t) for t in title_el.itertext()) if title_el is not None else None
            code_el = section.find("h:code", _NS)
            code = None
            if code_el is not None and code_el.get("codeSystem") in (None, _LOINC_OID):
                code = code_el.get("code")
            text_el = section.find("h:text", _NS)
            asm.add_section(title, code, narrative_text(text_el) if text_el is not None else "")
            stack.extend(reversed(section.findall("h:component/h:section", _NS)))
    non_xml = root.find("h:component/h:nonXMLBody/h:text", _NS)
    if non_xml is not None:
        media = (non_xml.get("mediaType") or "text/plain").split(";", 1)[0].strip().lower()
        if media not in ("text/plain", "text/html"):
            shown = media if re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", media) else "given"
            raise InputError(
                f"The ClinicalDocument nonXMLBody has media type {shown}; "
                "only text/plain and text/html are read.",
                _FIX_CDA,
            )
        raw = non_xml.text or ""
        if (non_xml.get("representation") or "TXT").upper() == "B64":
            raw = _decode(_b64(raw, "ClinicalDocument nonXMLBody/text"), "ClinicalDocument nonXMLBody/text")
        asm.add_text(html_to_text(raw) if media == "text/html" else raw)
    if not asm.parts:
        raise InputError(
            "The ClinicalDocument has no structuredBody section with a title or narrative text, "
            "and no nonXMLBody text.",
            _FIX_CDA,
        )
