// chartcode workbench: a small single-page app over the /api HTTP API. No build step, no framework.
//
// Ground rules kept throughout this file:
//  - No PHI in the console or in URLs: nothing is ever logged, and routes carry ids only
//    (#/encounter/12, #/audit?encounter_id=12). Note text only ever goes into the DOM.
//  - All text from the server is inserted with textContent (the h() helper), never as HTML.
//  - Writes send the encounter version they were based on; a 409 shows the conflict banner.

import { api, ApiError, seg, session, setUnauthorizedHandler, upload } from "./api.js";
import { pct, rateBars, stackedBars } from "./charts.js";
import { nest, spansFor } from "./highlight.js";

// ---------------------------------------------------------------------------------------------
// DOM helpers

/** Create an element: h("button", {class: "x", onclick: fn, "aria-label": "…"}, "text", child…). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "value") node.value = value;
    else if (key === "checked" || key === "disabled" || key === "hidden" || key === "required") node[key] = true;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const main = () => $("#main");

let toastTimer = 0;
/** A short status message (role="status", read by screen readers). */
function toast(message, kind = "info") {
  const box = $("#toast");
  box.textContent = message;
  box.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.className = "toast";
  }, 5000);
}

/** The banner at the top of the page: used for the 409 conflict, with an action button. */
function showBanner(message, actionLabel, action) {
  const banner = $("#banner");
  banner.replaceChildren(
    h("strong", {}, "Conflict: "),
    h("span", { class: "banner-text" }, message),
    actionLabel ? h("button", { type: "button", class: "btn primary", onclick: action }, actionLabel) : null,
  );
  banner.hidden = false;
}

function hideBanner() {
  const banner = $("#banner");
  banner.hidden = true;
  banner.replaceChildren();
}

const fmtNum = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(Number(v)) ? "—" : Number(v).toFixed(digits));

function fmtAge(hours) {
  if (hours === null || hours === undefined) return "—";
  const hrs = Number(hours);
  if (hrs < 1) return `${Math.round(hrs * 60)} min`;
  if (hrs < 48) return `${Math.round(hrs)} h`;
  return `${Math.floor(hrs / 24)} d ${Math.round(hrs % 24)} h`;
}

function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

const label = (s) => String(s || "").replace(/_/g, " ");

function badge(status) {
  return h("span", { class: `badge s-${String(status || "").replace(/[^a-z_]/gi, "")}` }, label(status));
}

/** A uniform error box for a failed load. */
function errorBox(err) {
  return h("div", { class: "error-box", role: "alert" }, err instanceof ApiError ? err.message : "Something went wrong.");
}

// ---------------------------------------------------------------------------------------------
// Roles and navigation

const ROLES = {
  queue: ["coder", "auditor", "manager", "admin"],
  queries: ["coder", "auditor", "manager", "admin"],
  denials: ["coder", "auditor", "manager", "admin"],
  review: ["auditor", "manager", "admin"],
  audit: ["auditor", "manager", "admin"],
  dashboard: ["manager", "auditor", "admin"],
  users: ["admin"],
};

const NAV = [
  ["queue", "Work queue"],
  ["queries", "Queries"],
  ["denials", "Denials"],
  ["review", "Second review"],
  ["audit", "Audit log"],
  ["dashboard", "Dashboard"],
  ["users", "Users"],
];

/** What the signed-in role may do in the encounter view (the API enforces the same). */
const ACTIONS = {
  decide: ["coder", "admin"], // accept / modify / reject, add a code, complete
  check: ["coder", "auditor", "admin"], // run the claim scrubber
  query: ["coder", "admin"], // draft and update provider queries
  verdict: ["auditor", "admin"], // second-review verdicts
  remit: ["auditor", "manager", "admin"], // post an 835 remittance
};
const may = (action) => ACTIONS[action].includes(session.user?.role);

const can = (page) => {
  const user = session.user;
  return Boolean(user && ROLES[page].includes(user.role));
};

function homeFor(role) {
  return { manager: "#/dashboard", auditor: "#/review" }[role] || "#/queue";
}

function renderChrome(current) {
  const user = session.user;
  const nav = $("#nav");
  nav.replaceChildren();
  $("#whoami").replaceChildren();
  if (!user) return;
  const list = h("ul", {});
  for (const [page, text] of NAV) {
    if (!can(page)) continue;
    list.append(
      h("li", {}, h("a", { href: `#/${page}`, "aria-current": current === page ? "page" : null }, text)),
    );
  }
  nav.append(list);
  $("#whoami").append(
    h("span", { class: "who" }, user.username, " ", h("span", { class: "role" }, user.role)),
    h("button", { type: "button", class: "btn link", onclick: () => openHelp(), "aria-label": "Keyboard shortcuts" }, "?"),
    h("button", { type: "button", class: "btn", onclick: logout }, "Sign out"),
  );
}

async function logout() {
  // Forget the session here first (a reload during the request must not bring it back), then end it
  // on the server.
  const token = session.token;
  session.clear();
  sessionStorage.removeItem(QUEUE_KEY);
  sessionStorage.removeItem(SPECIALTIES_KEY);
  enc.id = null; // drop the last encounter (note text) from memory
  enc.data = null;
  location.hash = "#/login";
  try {
    if (token) await api("POST", "/api/auth/logout", { token });
  } catch {
    // The session may already have expired; it is gone from this browser either way.
  }
}

setUnauthorizedHandler(() => {
  session.clear();
  if (!location.hash.startsWith("#/login")) location.hash = "#/login";
});

// ---------------------------------------------------------------------------------------------
// Router: #/page?query — ids and filters only, never note content.

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, params: new URLSearchParams(query) };
}

function go(path, params) {
  const qs = params ? new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined)).toString() : "";
  location.hash = `#${path}${qs ? `?${qs}` : ""}`;
}

let renderSeq = 0; // a view checks it after each await, so a stale view never paints over a newer one
let current = { page: null }; // the page on show ("encounter" enables the review-loop keys)

async function route() {
  const seq = ++renderSeq;
  const { path, params } = parseHash();
  hideBanner();
  closeDialogs();
  current = { page: null };
  if (!session.token || path === "/login") {
    if (path !== "/login") {
      location.hash = "#/login";
      return;
    }
    if (session.token) {
      location.hash = homeFor(session.user?.role);
      return;
    }
    renderChrome(null);
    return viewLogin(seq);
  }
  const m = path.match(/^\/encounter\/([^/]+)$/);
  if (m) {
    current.page = "encounter";
    renderChrome("queue");
    return viewEncounter(seq, decodeURIComponent(m[1]));
  }
  const page = path.replace(/^\//, "");
  const views = { queue: viewQueue, queries: viewQueries, denials: viewDenials, review: viewReview, audit: viewAudit, dashboard: viewDashboard, users: viewUsers };
  if (!views[page]) {
    location.hash = homeFor(session.user?.role);
    return;
  }
  current.page = page;
  renderChrome(page);
  if (!can(page)) {
    const needs = ROLES[page].join(", ");
    main().replaceChildren(
      h("h1", {}, "Not available"),
      h("p", { class: "error-box", role: "alert" }, `Your role (${session.user.role}) cannot open this page; it needs one of: ${needs}.`),
    );
    return;
  }
  return views[page](seq, params);
}

const stale = (seq) => seq !== renderSeq;

function paint(seq, ...nodes) {
  if (stale(seq)) return false;
  main().replaceChildren(...nodes);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Login

function viewLogin(seq) {
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const user = h("input", { id: "login-username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { class: "card login", "aria-labelledby": "login-title", novalidate: true },
    h("h1", { id: "login-title" }, "Sign in to chartcode"),
    h("label", { for: "login-username" }, "Username"),
    user,
    h("label", { for: "login-password" }, "Password"),
    pass,
    error,
    h("button", { type: "submit", class: "btn primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!user.value.trim() || !pass.value) {
      error.textContent = "Enter your username and password.";
      error.hidden = false;
      return;
    }
    try {
      const res = await api("POST", "/api/auth/login", { body: { username: user.value.trim(), password: pass.value } });
      session.set(res.token, res.user);
      location.hash = homeFor(res.user.role);
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong username or password." : err.message;
      error.hidden = false;
      pass.value = "";
      pass.focus();
    }
  });
  paint(seq, h("div", { class: "login-wrap" }, form));
  user.focus();
}

// ---------------------------------------------------------------------------------------------
// Work queue

const QUEUE_KEY = "chartcode.queue"; // {ids, query}: the last queue page, for "n" (next encounter)
const STATUSES = ["new", "in_review", "coded", "query", "second_review", "audited"];
const PAGE_SIZE = 25;

function rememberQueue(ids, query) {
  sessionStorage.setItem(QUEUE_KEY, JSON.stringify({ ids: ids.map(String), query }));
}

// Specialties seen in the queue so far, offered as suggestions in the (exact-match) specialty filter.
const SPECIALTIES_KEY = "chartcode.specialties";

function knownSpecialties() {
  try {
    return JSON.parse(sessionStorage.getItem(SPECIALTIES_KEY) || "[]");
  } catch {
    return [];
  }
}

function rememberSpecialties(seen) {
  const all = [...new Set([...knownSpecialties(), ...seen])].sort();
  sessionStorage.setItem(SPECIALTIES_KEY, JSON.stringify(all.slice(0, 200)));
  const list = $("#specialties");
  if (list) list.replaceChildren(...all.map((sp) => h("option", { value: sp })));
}

function queueQuery(params) {
  return {
    status: params.get("status") || "",
    specialty: params.get("specialty") || "",
    max_confidence: params.get("max_confidence") || "",
    sort: params.get("sort") || "age",
    limit: PAGE_SIZE,
    offset: Number(params.get("offset") || 0),
  };
}

async function viewQueue(seq, params) {
  const q = queueQuery(params);
  const title = h("h1", {}, "Work queue");
  const filters = h(
    "form",
    { class: "filters", "aria-label": "Filter the work queue" },
    h("label", {}, "Status ",
      h("select", { name: "status", "aria-label": "Status" },
        h("option", { value: "" }, "Any"),
        STATUSES.map((s) => h("option", { value: s, selected: q.status === s ? true : null }, label(s))))),
    h("label", {}, "Specialty ", h("input", { name: "specialty", value: q.specialty, size: 14, "aria-label": "Specialty", list: "specialties" })),
    h("datalist", { id: "specialties" }, knownSpecialties().map((sp) => h("option", { value: sp }))),
    h("label", {}, "Max confidence ",
      h("input", { name: "max_confidence", type: "number", min: 0, max: 1, step: 0.05, value: q.max_confidence, "aria-label": "Maximum confidence" })),
    h("label", {}, "Sort ",
      h("select", { name: "sort", "aria-label": "Sort" },
        // The API sorts "age" by intake time, oldest first (first in, first out); "-age" newest first.
        [["age", "Oldest first"], ["-age", "Newest first"], ["confidence", "Lowest confidence first"]].map(([v, t]) =>
          h("option", { value: v, selected: q.sort === v ? true : null }, t)))),
    h("button", { type: "submit", class: "btn primary" }, "Apply"),
  );
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(filters);
    go("/queue", { status: f.get("status"), specialty: String(f.get("specialty")).trim(), max_confidence: f.get("max_confidence"), sort: f.get("sort") });
  });
  filters.addEventListener("change", (e) => {
    if (e.target.tagName === "SELECT") filters.requestSubmit();
  });
  paint(seq, title, filters, h("p", { class: "muted" }, "Loading…"));
  let data;
  try {
    data = await api("GET", "/api/encounters", { query: q });
  } catch (err) {
    paint(seq, title, filters, errorBox(err));
    return;
  }
  if (stale(seq)) return;
  const items = data.items || [];
  rememberQueue(items.map((e) => e.id), { ...q });
  rememberSpecialties(items.map((e) => e.specialty).filter(Boolean));

  const sortHeader = (text, key) => {
    // "age" = oldest first, i.e. age descending; "-age" = newest first (age ascending).
    const asc = key === "age" ? q.sort === "-age" : q.sort === key;
    const desc = key === "age" && q.sort === "age";
    const next = key === "age" ? (q.sort === "age" ? "-age" : "age") : "confidence";
    return h("th", { scope: "col", "aria-sort": asc ? "ascending" : desc ? "descending" : "none" },
      h("button", { type: "button", class: "btn link sort", onclick: () => go("/queue", { ...q, limit: null, offset: null, sort: next }) },
        text, asc ? " ▲" : desc ? " ▼" : ""));
  };
  const table = h("table", { class: "grid queue" },
    h("caption", { class: "sr-only" }, "Encounters in the work queue"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Encounter"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Specialty"),
      h("th", { scope: "col" }, "Setting"), h("th", { scope: "col" }, "Date of service"), sortHeader("Age", "age"),
      sortHeader("Lowest confidence", "confidence"), h("th", { scope: "col" }, "Codes"), h("th", { scope: "col" }, "Assigned to"))),
    h("tbody", {}, items.length ? items.map((e) => h("tr", { "data-id": e.id },
      h("td", {}, h("a", { href: `#/encounter/${seg(e.id)}` }, e.external_id || `#${e.id}`)),
      h("td", {}, badge(e.status)),
      h("td", {}, e.specialty || "—"),
      h("td", {}, e.setting || "—"),
      h("td", {}, e.date_of_service || "—"),
      h("td", { class: "num" }, fmtAge(e.age_hours)),
      h("td", { class: "num" }, e.min_confidence === null || e.min_confidence === undefined ? "—" : pct(e.min_confidence, 0)),
      h("td", { class: "num" }, e.n_suggestions ?? "—"),
      h("td", {}, e.assigned_to || "—"),
    )) : h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No encounters match these filters."))),
  );
  const total = Number(data.total || 0);
  const from = total ? q.offset + 1 : 0;
  const to = Math.min(q.offset + items.length, total);
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", class: "btn", disabled: q.offset <= 0 ? true : null,
      onclick: () => go("/queue", { ...q, limit: null, offset: Math.max(0, q.offset - PAGE_SIZE) || null }) }, "← Previous"),
    h("span", { "aria-live": "polite" }, `${from}–${to} of ${total}`),
    h("button", { type: "button", class: "btn", disabled: q.offset + PAGE_SIZE >= total ? true : null,
      onclick: () => go("/queue", { ...q, limit: null, offset: q.offset + PAGE_SIZE }) }, "Next →"),
  );
  paint(seq, title, filters, table, pager);
}

/** The id of the encounter after `currentId` in the remembered queue (fetching the queue when needed). */
async function nextEncounterId(currentId) {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(QUEUE_KEY) || "null");
  } catch {
    saved = null;
  }
  if (saved && Array.isArray(saved.ids)) {
    const at = saved.ids.indexOf(String(currentId));
    if (at >= 0 && at + 1 < saved.ids.length) return saved.ids[at + 1];
    if (at < 0 && saved.ids.length) return saved.ids.find((id) => id !== String(currentId)) || null;
  }
  const query = saved && saved.query ? { ...saved.query } : { sort: "age", limit: PAGE_SIZE, offset: 0 };
  if (saved && saved.ids && saved.ids.length && saved.ids.indexOf(String(currentId)) === saved.ids.length - 1) {
    query.offset = Number(query.offset || 0) + PAGE_SIZE; // the last of a page: the next page
  }
  const data = await api("GET", "/api/encounters", { query });
  const ids = (data.items || []).map((e) => String(e.id));
  if (!ids.length) return null;
  rememberQueue(ids, query);
  return ids.find((id) => id !== String(currentId)) || null;
}

// ---------------------------------------------------------------------------------------------
// Encounter view

const REASONS = [
  "Not supported by the documentation",
  "Condition negated or ruled out",
  "Uncertain diagnosis (outpatient: code the symptoms)",
  "Integral to another coded condition",
  "More specific code documented",
  "History only, not current",
  "Duplicate",
];

const enc = {
  id: null,
  data: null, // the encounter detail
  selected: 0, // index into data.suggestions
  findings: null, // the last /check result, else the detail's findings
  queryDraft: "",
  querySuggestionId: null, // the suggestion the draft query is about
};

function suggestionById(id) {
  return (enc.data?.suggestions || []).find((s) => String(s.id) === String(id));
}

async function viewEncounter(seq, id) {
  if (String(enc.id) !== String(id)) {
    enc.id = id;
    enc.selected = 0;
    enc.findings = null;
    enc.queryDraft = "";
    enc.querySuggestionId = null;
  }
  paint(seq, h("p", { class: "muted" }, "Loading encounter…"));
  try {
    const data = await api("GET", `/api/encounters/${seg(id)}`);
    if (stale(seq)) return;
    enc.data = data;
  } catch (err) {
    paint(seq, h("h1", {}, "Encounter"), errorBox(err), h("p", {}, h("a", { href: "#/queue" }, "Back to the work queue")));
    return;
  }
  renderEncounter(seq);
}

/** Re-fetch the encounter after a conflict or a side effect, keeping the selection when possible. */
async function reloadEncounter() {
  hideBanner();
  const view = onShow();
  const selectedId = enc.data?.suggestions?.[enc.selected]?.id;
  try {
    if (!(await reloadQuietly(view))) return;
  } catch (err) {
    toast(err.message, "error");
    return;
  }
  const at = (enc.data.suggestions || []).findIndex((s) => String(s.id) === String(selectedId));
  enc.selected = at >= 0 ? at : Math.min(enc.selected, Math.max(0, (enc.data.suggestions || []).length - 1));
  renderEncounter(view.seq);
}

/** Run a write against the encounter; handles 409 (conflict banner) and returns the updated detail. */
let writing = false; // one encounter write at a time: a second key press must not race the first

async function encounterWrite(method, path, body, { success } = {}) {
  if (writing) {
    toast("Still saving the last change…");
    return false;
  }
  writing = true;
  const view = onShow();
  try {
    const res = await api(method, path, { body });
    if (success) toast(success, "ok");
    if (!stillOnShow(view)) return true; // the user moved on meanwhile: leave the new view alone
    if (res && res.suggestions && String(res.id) === String(view.id)) enc.data = res;
    else if (!(await reloadQuietly(view))) return true;
    renderEncounter(view.seq);
    return true;
  } catch (err) {
    if (err.status === 409 && stillOnShow(view)) {
      closeDialogs();
      showBanner(err.message, "Reload encounter", reloadEncounter);
      $("#banner button")?.focus();
      return false;
    }
    throw err;
  } finally {
    writing = false;
  }
}

/** Which encounter view is on show now (to check, after an await, that it still is). */
function onShow() {
  return { seq: renderSeq, id: enc.id };
}

function stillOnShow(view) {
  return view.seq === renderSeq && String(view.id) === String(enc.id);
}

/** Fetch the encounter again into `enc.data` if its view is still on show; returns whether it was. */
async function reloadQuietly(view) {
  const data = await api("GET", `/api/encounters/${seg(view.id)}`);
  if (!stillOnShow(view)) return false;
  enc.data = data;
  return true;
}

function renderEncounter(seq) {
  const e = enc.data;
  if (!e) return;
  const sugs = e.suggestions || [];
  enc.selected = Math.max(0, Math.min(enc.selected, sugs.length - 1));
  const patient = e.patient || {};
  const header = h("div", { class: "enc-head" },
    h("div", {},
      h("h1", {}, "Encounter ", h("span", { class: "mono" }, e.external_id || `#${e.id}`), " ", badge(e.status)),
      h("p", { class: "meta" },
        [
          e.specialty ? `Specialty: ${e.specialty}` : null,
          e.setting ? `Setting: ${e.setting}` : null,
          e.date_of_service ? `Date of service: ${e.date_of_service}` : null,
          patient.age !== undefined && patient.age !== null ? `Age ${patient.age}` : null,
          patient.sex ? `Sex ${patient.sex}` : null,
          e.release ? `Release: ${typeof e.release === "string" ? e.release : JSON.stringify(e.release)}` : null,
          `Version ${e.version}`,
        ].filter(Boolean).join(" · "))),
    h("div", { class: "enc-actions" },
      h("a", { class: "btn", href: "#/queue" }, "← Queue"),
      h("button", { type: "button", class: "btn", onclick: openNextEncounter, "aria-keyshortcuts": "n" }, "Next encounter (n)")),
  );

  const note = h("section", { class: "card note-col", "aria-labelledby": "note-title" },
    h("h2", { id: "note-title" }, "Note"),
    (e.documents || []).map((doc, i) => renderDocument(doc, i === 0, sugs)),
    (e.documents || []).length ? null : h("p", { class: "muted" }, "No documents."),
  );

  const right = h("div", { class: "side-col" },
    suggestionsPanel(sugs),
    auditPanel(),
    codeSearchPanel(),
    findingsPanel(),
    remittancePanel(),
    queriesPanel(),
  );
  paint(seq, header, h("div", { class: "enc-grid" }, note, right));
  applySelection(false);
}

/**
 * The document text with a <mark data-suggestion-id> per evidence span. A suggestion's overlapping spans
 * are merged; a span inside another suggestion's span is a mark nested in that mark, so each mark's text
 * is its whole evidence (see highlight.js).
 */
function renderDocument(doc, isFirst, sugs) {
  const body = h("div", { class: "doc-text", "data-document-id": doc.id });
  const cps = Array.from(doc.text || "");
  const piece = (a, b) => document.createTextNode(cps.slice(a, b).join(""));
  const fill = (parent, nodes, from, to) => {
    let at = from;
    for (const node of nodes) {
      if (node.start > at) parent.append(piece(at, node.start));
      const s = suggestionById(node.id);
      const mark = h("mark", { "data-suggestion-id": node.id, title: s ? `${s.final_code || s.code} — ${s.description || ""}` : null });
      mark.addEventListener("click", (ev) => {
        ev.stopPropagation(); // the innermost mark wins
        const index = (enc.data.suggestions || []).findIndex((x) => String(x.id) === node.id);
        if (index >= 0) select(index, false);
      });
      fill(mark, node.children, node.start, node.end);
      parent.append(mark);
      at = node.end;
    }
    if (to > at) parent.append(piece(at, to));
  };
  fill(body, nest(spansFor(doc, isFirst, sugs)), 0, cps.length);
  return h("article", { class: "doc", "aria-label": `Document ${label(doc.kind || "note")}` },
    h("h3", {}, label(doc.kind || "document")), body);
}

// Codes can be decided only while the encounter is in one of these states (the API enforces it too).
const OPEN_FOR_DECISIONS = ["new", "in_review", "query"];

function isDecided(s) {
  return s.status && s.status !== "suggested";
}

function suggestionsPanel(sugs) {
  const e = enc.data;
  const undecided = sugs.filter((s) => !isDecided(s)).length;
  const open = OPEN_FOR_DECISIONS.includes(e.status);
  const list = h("ol", { class: "sugs", "aria-label": "Suggested codes" });
  sugs.forEach((s, i) => {
    const conf = s.confidence === null || s.confidence === undefined ? NaN : Number(s.confidence);
    const decidable = open && s.status !== "added" && may("decide");
    const item = h("li", {
      class: `sug st-${s.status}`, "data-suggestion-id": s.id, tabindex: -1, "aria-current": i === enc.selected ? "true" : null,
      onmouseenter: () => highlight(s.id, true), onmouseleave: () => highlight(s.id, false),
      onclick: (ev) => {
        if (!ev.target.closest("button")) select(i, true);
      },
    },
    h("div", { class: "sug-top" },
      h("span", { class: "code mono" }, s.code),
      s.final_code && s.final_code !== s.code ? h("span", { class: "final mono", title: "Final code" }, "→ ", s.final_code) : null,
      h("span", { class: "sys" }, [s.system, s.kind].filter(Boolean).join(" · ")),
      badge(s.status)),
    h("div", { class: "desc" }, s.description || ""),
    h("div", { class: "conf" },
      Number.isFinite(conf) ? h("meter", { min: 0, max: 1, low: 0.6, high: 0.85, optimum: 1, value: conf, "aria-label": `Confidence ${pct(conf, 0)}` }) : null,
      h("span", {}, `Confidence ${Number.isFinite(conf) ? pct(conf, 0) : "—"}`)),
    s.rationale ? h("div", { class: "why" }, s.rationale) : null,
    s.path ? h("div", { class: "why" }, "Index path: ", s.path) : null,
    s.guideline ? h("div", { class: "why" }, "Guideline: ", s.guideline) : null,
    s.reason ? h("div", { class: "reason" }, "Reason: ", s.reason) : null,
    (s.evidence || []).length ? null : h("div", { class: "muted small" }, "No evidence span."),
    decidable ? h("div", { class: "sug-btns" },
      h("button", { type: "button", class: "btn ok", onclick: () => decide(i, "accept"), "aria-keyshortcuts": "a", "aria-label": `Accept ${s.code}` }, "Accept"),
      h("button", { type: "button", class: "btn", onclick: () => decide(i, "modify"), "aria-keyshortcuts": "m", "aria-label": `Modify ${s.code}` }, "Modify"),
      h("button", { type: "button", class: "btn warn", onclick: () => decide(i, "reject"), "aria-keyshortcuts": "r", "aria-label": `Reject ${s.code}` }, "Reject"),
      may("query") ? h("button", { type: "button", class: "btn link", onclick: () => draftQuery(i), "aria-label": `Draft a provider query about ${s.code}` }, "Query") : null) : null,
    );
    list.append(item);
  });
  const completeBtn = h("button", {
    type: "button", class: "btn primary", disabled: undecided > 0 || e.status === "coded" || e.status === "audited" ? true : null,
    onclick: completeEncounter,
  }, "Complete coding");
  return h("section", { class: "card", "aria-labelledby": "sugs-title" },
    h("div", { class: "card-head" },
      h("h2", { id: "sugs-title" }, `Codes (${sugs.length})`),
      h("span", { class: "muted small", "aria-live": "polite" }, undecided ? `${undecided} to decide` : "All decided")),
    sugs.length ? list : h("p", { class: "muted" }, "The coder suggested no codes."),
    h("div", { class: "row" },
      open && may("decide") ? h("button", { type: "button", class: "btn", onclick: () => openDecisionDialog("add") }, "Add a code") : null,
      may("check") ? h("button", { type: "button", class: "btn", onclick: runCheck }, "Run claim check") : null,
      may("decide") ? completeBtn : null),
  );
}

/** Mark the selected suggestion and scroll its first evidence span into view. */
function select(index, scroll) {
  const sugs = enc.data?.suggestions || [];
  if (!sugs.length) return;
  enc.selected = (index + sugs.length) % sugs.length;
  applySelection(scroll);
}

function applySelection(scroll) {
  const sugs = enc.data?.suggestions || [];
  const s = sugs[enc.selected];
  $$("li.sug").forEach((li) => li.setAttribute("aria-current", li.dataset.suggestionId === String(s?.id) ? "true" : "false"));
  $$("mark.sel").forEach((m) => m.classList.remove("sel"));
  if (!s) return;
  const marks = $$(`mark[data-suggestion-id="${CSS.escape(String(s.id))}"]`);
  marks.forEach((m) => m.classList.add("sel"));
  const li = $(`li.sug[data-suggestion-id="${CSS.escape(String(s.id))}"]`);
  if (scroll) {
    li?.scrollIntoView({ block: "nearest" });
    marks[0]?.scrollIntoView({ block: "center" });
  }
}

function highlight(id, on) {
  $$(`mark[data-suggestion-id="${CSS.escape(String(id))}"]`).forEach((m) => m.classList.toggle("hl", on));
  if (on) $(`mark[data-suggestion-id="${CSS.escape(String(id))}"]`)?.scrollIntoView({ block: "nearest" });
}

async function decide(index, action) {
  select(index, false);
  if (action === "accept") {
    const s = enc.data.suggestions[index];
    try {
      await encounterWrite("POST", `/api/encounters/${seg(enc.id)}/decisions`,
        { suggestion_id: s.id, action: "accept", version: enc.data.version }, { success: `Accepted ${s.code}` });
    } catch (err) {
      toast(err.message, "error");
    }
    return;
  }
  openDecisionDialog(action, enc.data.suggestions[index]);
}

async function completeEncounter() {
  try {
    await encounterWrite("POST", `/api/encounters/${seg(enc.id)}/complete`, { version: enc.data.version }, { success: "Encounter coded" });
  } catch (err) {
    toast(err.message, "error");
  }
}

async function runCheck() {
  const view = onShow();
  try {
    const res = await api("POST", `/api/encounters/${seg(view.id)}/check`);
    if (!stillOnShow(view)) return;
    enc.findings = res.findings || [];
    if (await reloadQuietly(view)) renderEncounter(view.seq); // the check may store a claim and move the version on
    toast(enc.findings.length ? `${enc.findings.length} finding(s)` : "No findings: the claim is clean", enc.findings.length ? "warn" : "ok");
  } catch (err) {
    toast(err.message, "error");
  }
}

async function openNextEncounter() {
  try {
    const id = await nextEncounterId(enc.id);
    if (id === null) toast("No more encounters in the queue.");
    else location.hash = `#/encounter/${seg(id)}`;
  } catch (err) {
    toast(err.message, "error");
  }
}

// --- the modify / reject / add dialog ------------------------------------------------------

function closeDialogs() {
  $$("dialog[open]").forEach((d) => d.close());
}

/**
 * A code input with inline search (/api/codes/search) as an ARIA combobox, plus a lookup of the chosen
 * code (/api/codes/{code}) shown beneath it.
 */
function codeCombobox({ id, labelText, value = "", date }) {
  const listId = `${id}-list`;
  const input = h("input", {
    id, class: "mono", value, autocomplete: "off", spellcheck: "false", role: "combobox", "aria-autocomplete": "list",
    "aria-expanded": "false", "aria-controls": listId, placeholder: "Code or words, e.g. E11.22 or diabetes kidney",
  });
  const list = h("ul", { id: listId, role: "listbox", class: "combo-list", hidden: true, "aria-label": "Matching codes" });
  const info = h("div", { class: "lookup", "aria-live": "polite" });
  let searchSeq = 0;
  let lookupSeq = 0;
  let active = -1;
  let timer = 0;
  let items = [];

  const setActive = (i) => {
    active = i;
    $$("li", list).forEach((li, k) => li.setAttribute("aria-selected", k === i ? "true" : "false"));
    if (i >= 0) {
      input.setAttribute("aria-activedescendant", `${listId}-${i}`);
      $(`#${listId}-${i}`)?.scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const closeList = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    setActive(-1);
  };
  let looked = null; // the code the info box describes (a blur after picking must not look it up again)
  const lookup = async (code) => {
    if (code === looked) return;
    looked = code;
    const mine = ++lookupSeq;
    if (!code) {
      info.replaceChildren();
      return;
    }
    if (!info.childNodes.length) info.replaceChildren(h("span", { class: "muted" }, "Looking up…"));
    try {
      const r = await api("GET", `/api/codes/${seg(code)}`, { query: { date } });
      if (mine !== lookupSeq) return;
      info.replaceChildren(describeLookup(code, r));
    } catch (err) {
      if (mine !== lookupSeq) return;
      info.replaceChildren(h("span", { class: "bad" }, err.status === 404 ? `${code}: no such code.` : err.message));
    }
  };
  const pick = (item) => {
    input.value = item.code;
    closeList();
    lookup(item.code);
  };
  const search = async () => {
    const q = input.value.trim();
    const mine = ++searchSeq;
    if (q.length < 2) {
      closeList();
      return;
    }
    try {
      // No date here: search answers from the newest releases; the lookup below checks the date of service.
      const r = await api("GET", "/api/codes/search", { query: { q, limit: 8 } });
      if (mine !== searchSeq) return; // a newer keystroke won
      items = Array.isArray(r) ? r : r.items || r.results || [];
      list.replaceChildren(...items.map((it, k) => h("li", {
        id: `${listId}-${k}`, role: "option", "aria-selected": "false", "data-code": it.code,
        onmousedown: (ev) => {
          ev.preventDefault(); // keep focus in the input
          pick(it);
        },
      }, h("span", { class: "mono" }, it.code), " ", h("span", {}, it.description || ""),
      it.path ? h("div", { class: "muted small" }, it.path) : null)));
      list.hidden = items.length === 0;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
      setActive(-1);
    } catch {
      if (mine === searchSeq) closeList();
    }
  };
  input.addEventListener("input", () => {
    if (input.value.trim().toUpperCase() !== looked) {
      looked = null; // the info box no longer describes what is typed
      info.replaceChildren();
    }
    clearTimeout(timer);
    timer = setTimeout(search, 200);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" && items.length) {
      ev.preventDefault();
      if (list.hidden) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
      setActive(Math.min(items.length - 1, active + 1));
    } else if (ev.key === "ArrowUp" && items.length) {
      ev.preventDefault();
      setActive(Math.max(0, active - 1));
    } else if (ev.key === "Enter" && !list.hidden && active >= 0) {
      ev.preventDefault();
      pick(items[active]);
    } else if (ev.key === "Escape" && !list.hidden) {
      ev.preventDefault();
      ev.stopPropagation();
      closeList();
    }
  });
  input.addEventListener("change", () => lookup(input.value.trim()));
  input.addEventListener("blur", () => setTimeout(closeList, 100));
  if (value) lookup(value);
  // The list hangs right under the input (the field wrapper is its positioning box), above the lookup.
  const root = h("div", { class: "combo" }, h("label", { for: id }, labelText), h("div", { class: "combo-field" }, input, list), info);
  return { root, input, info, lookup, search };
}

/** What a coder needs from a lookup: description, billable, valid on the date of service, key notes. */
function describeLookup(code, r) {
  if (!r || typeof r !== "object") return h("span", {}, code);
  const bits = [];
  if (r.billable === false) bits.push(h("span", { class: "bad" }, "not billable (a header: choose a more specific code)"));
  else if (r.billable === true) bits.push(h("span", { class: "good" }, "billable"));
  if (r.valid_on_date === false) {
    const spans = (r.validity || []).map((v) => `${v.from}–${v.to || "present"}`).join(", ");
    bits.push(h("span", { class: "bad" }, `not valid on ${r.date || "the date of service"}${spans ? `; valid ${spans}` : ""}`));
  } else if (r.valid_on_date === true) bits.push(h("span", { class: "good" }, `valid on ${r.date || "the date of service"}`));
  const conv = r.conventions || {};
  const notes = [
    ...(conv.code_first || []).map((n) => `Code first: ${n.text}`),
    ...(conv.use_additional || []).map((n) => `Use additional: ${n.text}`),
    ...(conv.excludes1 || []).map((n) => `Excludes1: ${n.text}`),
  ].slice(0, 4);
  return h("div", {},
    h("div", {}, h("strong", { class: "mono" }, r.code || code), " — ", r.description || "",
      bits.length ? " · " : "", bits.flatMap((b, i) => (i ? [" · ", b] : [b]))),
    notes.length ? h("ul", { class: "conv" }, notes.map((n) => h("li", {}, n))) : null);
}

function openDecisionDialog(action, sug, presetCode = "") {
  const dialog = $("#decision-dialog");
  const needsCode = action === "modify" || action === "add";
  const titles = { modify: `Modify ${sug?.code || ""}`, reject: `Reject ${sug?.code || ""}`, add: "Add a code" };
  const combo = needsCode
    ? codeCombobox({ id: "decision-code", labelText: action === "modify" ? "Replacement code" : "Code", value: presetCode || (action === "modify" ? sug?.final_code || sug?.code || "" : ""), date: enc.data.date_of_service })
    : null;
  const reason = h("input", { id: "decision-reason", list: "reason-options", required: true, autocomplete: "off", "aria-describedby": "decision-reason-help" });
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const form = h("form", { method: "dialog", class: "dialog-form", "aria-labelledby": "decision-title", novalidate: true },
    h("h2", { id: "decision-title" }, titles[action]),
    sug ? h("p", { class: "muted" }, sug.description || "") : null,
    combo ? combo.root : null,
    h("label", { for: "decision-reason" }, "Reason (required)"),
    reason,
    h("datalist", { id: "reason-options" }, REASONS.map((r) => h("option", { value: r }))),
    h("p", { id: "decision-reason-help", class: "muted small" }, "Say why, in a few words a reviewer will understand."),
    error,
    h("div", { class: "row end" },
      h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, "Cancel"),
      h("button", { type: "submit", class: `btn ${action === "reject" ? "warn" : "primary"}`, value: "save" },
        { modify: "Save change", reject: "Reject code", add: "Add code" }[action])),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const code = combo ? combo.input.value.trim().toUpperCase() : "";
    const why = reason.value.trim();
    const problems = [];
    if (needsCode && !code) problems.push("Enter a code.");
    if (!why) problems.push("A reason is required.");
    if (problems.length) {
      error.textContent = problems.join(" ");
      error.hidden = false;
      (needsCode && !code ? combo.input : reason).focus();
      return;
    }
    const path = action === "add" ? `/api/encounters/${seg(enc.id)}/codes` : `/api/encounters/${seg(enc.id)}/decisions`;
    const body = action === "add"
      ? { code, reason: why, version: enc.data.version }
      : { suggestion_id: sug.id, action, reason: why, version: enc.data.version, ...(action === "modify" ? { code } : {}) };
    try {
      const ok = await encounterWrite("POST", path, body, {
        success: { modify: `Changed ${sug?.code} to ${code}`, reject: `Rejected ${sug?.code}`, add: `Added ${code}` }[action],
      });
      if (ok) dialog.close();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  dialog.replaceChildren(form);
  dialog.showModal();
  (combo ? combo.input : reason).focus();
  if (combo) combo.input.select();
}

// --- code search panel ('/' focuses it) ------------------------------------------------------

function codeSearchPanel() {
  const combo = codeCombobox({ id: "code-search", labelText: "Code search", date: enc.data.date_of_service });
  const useBtns = !may("decide") || !OPEN_FOR_DECISIONS.includes(enc.data.status) ? null : h("div", { class: "row" },
    h("button", { type: "button", class: "btn", onclick: () => openDecisionDialog("add", null, combo.input.value.trim().toUpperCase()) }, "Add to encounter"),
    h("button", { type: "button", class: "btn", onclick: () => {
      const s = enc.data.suggestions?.[enc.selected];
      if (s) openDecisionDialog("modify", s, combo.input.value.trim().toUpperCase());
      else toast("Select a suggested code first.");
    } }, "Use for selected code"));
  return h("section", { class: "card", "aria-label": "Code search and lookup" }, combo.root, useBtns);
}

// --- findings --------------------------------------------------------------------------------

function findingsPanel() {
  const findings = enc.findings ?? enc.data.findings ?? [];
  return h("section", { class: "card", "aria-labelledby": "findings-title" },
    h("h2", { id: "findings-title" }, `Claim edit findings (${findings.length})`),
    findings.length
      ? h("ul", { class: "findings" }, findings.map((f) => h("li", { class: `finding sev-${f.severity}` },
        h("div", {}, h("span", { class: `sev sev-${f.severity}` }, f.severity || "info"), " ", h("strong", { class: "mono" }, f.rule),
          f.line !== undefined && f.line !== null ? h("span", { class: "muted" }, ` · line ${f.line}`) : null),
        h("div", {}, f.message),
        f.fix ? h("div", { class: "fix" }, h("strong", {}, "Fix: "), f.fix) : null,
        f.citation ? h("div", { class: "cite muted small" }, "Citation: ", f.citation) : null)))
      : h("p", { class: "muted" }, enc.findings ? "No findings: the claim is clean." : "Run the claim check after deciding the codes."),
  );
}

// --- remittance (835) ------------------------------------------------------------------------

const money = (v) => (v === null || v === undefined ? "—" : `$${Number(v).toFixed(2)}`);

/** The CAS adjustments of a line or claim: group-CARC, amount, what it means in plain words, category. */
function adjustmentList(adjustments) {
  if (!adjustments || !adjustments.length) return h("span", { class: "muted" }, "none");
  // the remark codes are listed on their own (remarkList), so the reason stops before "; remark …"
  return h("ul", { class: "adj" }, adjustments.map((a) => h("li", {},
    h("strong", { class: "mono" }, a.key), ` ${money(a.amount)}: ${String(a.description || "").split("; remark ")[0]}`,
    h("span", { class: "muted" }, ` (${a.category_label})`))));
}

function remarkList(remarks) {
  if (!remarks || !remarks.length) return null;
  return h("ul", { class: "adj" }, remarks.map((r) => h("li", {},
    h("strong", { class: "mono" }, r.code), r.label ? `: ${r.label}` : "")));
}

function remittancePanel() {
  const remits = enc.data.remits || [];
  return h("section", { class: "card", "aria-labelledby": "remit-title" },
    h("h2", { id: "remit-title" }, `Remittance (${remits.length})`),
    remits.length ? remits.map((r) => h("div", { class: "remit", "data-remit-id": r.id },
      h("p", {}, badge(r.status), " ",
        h("strong", {}, `Paid ${money(r.paid)}`), ` of ${money(r.charge)}`,
        h("span", { class: "muted" }, ` · ${r.payer || "payer"} · paid on ${r.payment_date || "—"} · trace ${r.trace_number || "—"}`)),
      r.adjustments && r.adjustments.length ? h("div", {}, h("strong", {}, "Claim adjustments: "), adjustmentList(r.adjustments), remarkList(r.remarks)) : null,
      r.action && !(r.lines || []).length ? h("div", { class: "fix" }, h("strong", {}, "Rework: "), r.action) : null,
      (r.lines || []).length ? h("table", { class: "grid remit-lines" },
        h("thead", {}, h("tr", {}, ["Line", "Code", "Paid", "Why (CARC, RARC)", "Rework action"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, r.lines.map((l) => h("tr", { class: l.denied ? "denied" : null },
          h("td", {}, l.line_number ?? "—"),
          h("td", { class: "mono" }, [l.code, ...(l.modifiers || [])].join("-")),
          h("td", { class: "num" }, money(l.paid), l.denied ? h("div", {}, badge("denied")) : null),
          h("td", { class: "wrap" }, adjustmentList(l.adjustments), remarkList(l.remarks)),
          h("td", { class: "wrap" }, l.denied || l.category ? l.action || "—" : "—"))))) : null))
      : h("p", { class: "muted" }, "No remittance posted for this encounter's claim yet."),
  );
}

// --- provider queries ------------------------------------------------------------------------

/** A non-leading provider query about one suggestion, quoting its evidence (the coder edits it before sending). */
function queryTemplate(s) {
  const evidence = (s.evidence || []).map((e) => e.text).filter(Boolean);
  const quoted = evidence.length ? `The note documents "${evidence.join("\", \"")}".` : "The note mentions this condition.";
  return `Clinical documentation query about ${s.final_code || s.code} (${s.description || "suggested code"}).\n` +
    `${quoted}\n` +
    "Based on your clinical judgment, can you clarify the diagnosis this represents (for example its type, acuity, " +
    "stage or laterality), that it was ruled out, or that it cannot be determined? Please document your answer in the record.";
}

function draftQuery(index) {
  select(index, false);
  const s = enc.data.suggestions[index];
  enc.queryDraft = queryTemplate(s);
  enc.querySuggestionId = s.id;
  const box = $("#query-text");
  if (box) {
    box.value = enc.queryDraft;
    box.focus();
    box.scrollIntoView({ block: "center" });
  }
}

function queriesPanel() {
  const queries = enc.data.queries || [];
  const sel = enc.data.suggestions?.[enc.selected];
  // The draft and the code it is about live in `enc`, so they survive a re-render (e.g. after a decision).
  const text = h("textarea", {
    id: "query-text", rows: 4, value: enc.queryDraft, "aria-describedby": "query-help",
    oninput: (ev) => {
      enc.queryDraft = ev.target.value;
    },
  });
  const form = h("form", { class: "query-form", "aria-label": "Draft a provider query" },
    h("label", { for: "query-text" }, "New query to the provider"),
    text,
    h("p", { id: "query-help", class: "muted small" }, "“Draft from selected code” fills a non-leading question you can edit."),
    h("div", { class: "row" },
      h("button", { type: "button", class: "btn", disabled: sel ? null : true, onclick: () => draftQuery(enc.selected) }, "Draft from selected code"),
      h("button", { type: "submit", class: "btn primary" }, "Send query")),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const view = onShow();
    const question = text.value.trim();
    if (!question) {
      toast("Write the question first.", "error");
      text.focus();
      return;
    }
    try {
      await api("POST", `/api/encounters/${seg(view.id)}/queries`, {
        body: { question, ...(enc.querySuggestionId ? { suggestion_id: enc.querySuggestionId } : {}) },
      });
      toast("Query sent", "ok");
      if (!stillOnShow(view)) return;
      enc.queryDraft = "";
      enc.querySuggestionId = null;
      if (await reloadQuietly(view)) renderEncounter(view.seq);
    } catch (err) {
      toast(err.message, "error");
    }
  });
  return h("section", { class: "card", "aria-labelledby": "queries-title" },
    h("h2", { id: "queries-title" }, `Provider queries (${queries.length})`),
    queries.length ? h("ul", { class: "queries" }, queries.map(queryItem)) : h("p", { class: "muted" }, "No queries yet."),
    may("query") ? form : null);
}

function queryItem(q) {
  const answer = h("input", { "aria-label": "Answer from the provider", placeholder: "Provider's answer", value: q.answer || "" });
  const setStatus = async (status) => {
    const view = onShow();
    try {
      await api("PATCH", `/api/queries/${seg(q.id)}`, { body: { status, ...(answer.value.trim() ? { answer: answer.value.trim() } : {}) } });
      if (await reloadQuietly(view)) renderEncounter(view.seq);
      toast(`Query ${status}`, "ok");
    } catch (err) {
      toast(err.message, "error");
    }
  };
  return h("li", { class: "query", "data-query-id": q.id },
    h("div", {}, badge(q.status), " ", h("span", { class: "muted small" }, [q.created_by || q.user, fmtTime(q.created_at)].filter(Boolean).join(" · "))),
    h("div", { class: "q-text" }, q.question),
    q.answer ? h("div", { class: "q-answer" }, h("strong", {}, "Answer: "), q.answer) : null,
    q.status === "closed" || !may("query") ? null : h("div", { class: "row" }, answer,
      q.status === "open" ? h("button", { type: "button", class: "btn", onclick: () => setStatus("answered") }, "Mark answered") : null,
      h("button", { type: "button", class: "btn", onclick: () => setStatus("closed") }, "Close")));
}

// --- auditor verdict (second review) ---------------------------------------------------------

function auditPanel() {
  const e = enc.data;
  if (!(e.status === "second_review" || e.status === "coded") || !may("verdict")) return null;
  const finals = e.final_codes || [];
  const corrected = h("input", { id: "audit-codes", class: "mono", placeholder: "e.g. E11.22, N18.31" });
  const note = h("textarea", { id: "audit-note", rows: 2 });
  // Disagreeing starts from the coder's codes, so the auditor edits rather than retypes them.
  const onDisagree = () => {
    if (!corrected.value.trim()) corrected.value = finals.join(", ");
  };
  const form = h("form", { class: "card audit-form", "aria-labelledby": "audit-title" },
    h("h2", { id: "audit-title" }, "Second review verdict"),
    h("p", {}, "Coder's final codes: ", h("strong", { class: "mono" }, finals.length ? finals.join(", ") : "none")),
    h("fieldset", {}, h("legend", {}, "Do you agree with the final codes?"),
      h("label", {}, h("input", { type: "radio", name: "agree", value: "yes", checked: true }), " Agree"),
      h("label", {}, h("input", { type: "radio", name: "agree", value: "no", onchange: onDisagree }), " Disagree")),
    h("label", { for: "audit-codes" }, "Corrected codes (when you disagree, comma-separated)"), corrected,
    h("label", { for: "audit-note" }, "Note"), note,
    h("button", { type: "submit", class: "btn primary" }, "Record verdict"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const view = onShow();
    const agree = new FormData(form).get("agree") === "yes";
    const codes = corrected.value.split(/[\s,;]+/).map((c) => c.trim().toUpperCase()).filter(Boolean);
    if (!agree && !codes.length) {
      toast("When you disagree, enter the corrected codes.", "error");
      corrected.focus();
      return;
    }
    try {
      await api("POST", `/api/encounters/${seg(enc.id)}/audit`, {
        body: { agree, ...(codes.length ? { corrected_codes: codes } : {}), ...(note.value.trim() ? { note: note.value.trim() } : {}) },
      });
      if (await reloadQuietly(view)) renderEncounter(view.seq);
      toast("Verdict recorded", "ok");
    } catch (err) {
      toast(err.message, "error");
    }
  });
  return form;
}

// ---------------------------------------------------------------------------------------------
// Queries list

async function viewQueries(seq, params) {
  const status = params.get("status") || "open";
  const select = h("select", { id: "queries-status", "aria-label": "Query status", onchange: (e) => go("/queries", { status: e.target.value }) },
    ["open", "answered", "closed"].map((s) => h("option", { value: s, selected: s === status ? true : null }, s)));
  const head = [h("h1", {}, "Provider queries"), h("div", { class: "filters" }, h("label", { for: "queries-status" }, "Status "), select)];
  paint(seq, ...head, h("p", { class: "muted" }, "Loading…"));
  try {
    const data = await api("GET", "/api/queries", { query: { status } });
    const items = Array.isArray(data) ? data : data.items || [];
    paint(seq, ...head, h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["Encounter", "Status", "Question", "Answer", "Asked"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, items.length ? items.map((q) => h("tr", {},
        h("td", {}, h("a", { href: `#/encounter/${seg(q.encounter_id)}` }, `#${q.encounter_id}`)),
        h("td", {}, badge(q.status)),
        h("td", { class: "wrap" }, q.question),
        h("td", { class: "wrap" }, q.answer || "—"),
        h("td", {}, fmtTime(q.created_at)))) : h("tr", {}, h("td", { colspan: 5, class: "muted" }, `No ${status} queries.`)))));
  } catch (err) {
    paint(seq, ...head, errorBox(err));
  }
}

// ---------------------------------------------------------------------------------------------
// Denials: the work queue of remittance denials (coding-related first) and the 835 upload

const DENIAL_CATEGORIES = [
  ["invalid_code", "invalid, deleted or non-specific code"], ["bundling", "bundling / NCCI edit"],
  ["modifier", "modifier"], ["medical_necessity", "medical necessity / diagnosis"], ["units", "units / MUE / frequency"],
  ["demographic", "age / sex"], ["level_of_service", "level of service"], ["place_of_service", "place of service"],
  ["missing_information", "missing information"], ["eligibility", "eligibility"], ["timely_filing", "timely filing"],
  ["authorization", "authorization / referral"], ["duplicate", "duplicate"], ["coordination_of_benefits", "other payer"],
  ["provider_eligibility", "provider enrolment"], ["non_covered", "not covered"], ["benefit_limit", "benefit limit"],
  ["unclassified", "other"],
];

let remitNotice = ""; // what the last 835 post stored, shown once on the repainted page

function uploadForm() {
  const input = h("input", { id: "remit-file", name: "file", type: "file", accept: ".835,.txt,.x12,.edi" });
  const result = h("p", { id: "remit-result", role: "status" }, remitNotice);
  remitNotice = "";
  const form = h("form", { class: "card upload", "aria-labelledby": "remit-upload-title" },
    h("h2", { id: "remit-upload-title" }, "Post an 835 remittance"),
    h("label", { for: "remit-file" }, "835 file "), input,
    h("button", { type: "submit", class: "btn primary" }, "Post 835"), result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = input.files && input.files[0];
    if (!file) {
      result.textContent = "Choose the 835 file first.";
      return;
    }
    result.textContent = "Posting…";
    try {
      const s = await upload("/api/remits", file);
      remitNotice = s.remittances === 0
        ? `Already posted: ${s.already_posted} payment(s) in this file were posted before; nothing changed.`
        : `Posted ${s.remittances} payment(s): ${s.claims_matched} claim(s) matched, ${s.claims_unmatched} unmatched; ` +
          `${s.lines} line(s), ${s.denied_lines} denied, ${s.coding_denials} coding denial(s).`;
      result.textContent = remitNotice;
      toast("Remittance posted.", "ok");
      route();
    } catch (err) {
      result.textContent = err instanceof ApiError ? err.message : "The upload failed.";
    }
  });
  return form;
}

async function viewDenials(seq, params) {
  const coding = params.has("coding_related") ? params.get("coding_related") : "true";
  const category = params.get("category") || "";
  const codingSel = h("select", { id: "denials-coding", "aria-label": "Which denials", onchange: (e) => go("/denials", { coding_related: e.target.value, category }) },
    [["true", "coding-related"], ["false", "not coding-related"], ["", "all"]].map(([v, t]) => h("option", { value: v, selected: v === coding ? true : null }, t)));
  const catSel = h("select", { id: "denials-category", "aria-label": "Category", onchange: (e) => go("/denials", { coding_related: coding, category: e.target.value }) },
    h("option", { value: "" }, "any category"),
    DENIAL_CATEGORIES.map(([v, t]) => h("option", { value: v, selected: v === category ? true : null }, t)));
  const head = [
    h("h1", {}, "Denials to rework"),
    may("remit") ? uploadForm() : null,
    h("div", { class: "filters" }, h("label", { for: "denials-coding" }, "Show "), codingSel, " ", h("label", { for: "denials-category" }, "Category "), catSel),
  ];
  paint(seq, ...head, h("p", { class: "muted" }, "Loading…"));
  try {
    const data = await api("GET", "/api/remits", { query: { coding_related: coding, category, limit: 200 } });
    const items = data.items || [];
    const table = h("table", { class: "grid", id: "denials-table" },
      h("caption", {}, `${data.total} denial(s)`),
      h("thead", {}, h("tr", {}, ["Encounter", "Claim", "Line", "Code", "Category", "Reason codes", "Charge / paid", "Rework action", "Paid on"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, items.length ? items.map((d) => h("tr", { "data-remit-id": d.remit_id },
        h("td", {}, d.encounter_id ? h("a", { href: `#/encounter/${seg(d.encounter_id)}` }, `#${d.encounter_id}`) : h("span", { class: "muted" }, "not matched")),
        h("td", { class: "mono" }, d.claim_number || "—"),
        h("td", {}, d.line_id ? d.line_number ?? "—" : "whole claim"),
        h("td", { class: "mono" }, d.code ? [d.code, ...(d.modifiers || [])].join("-") : "—"),
        h("td", {}, d.category_label || label(d.category) || "—"),
        h("td", { class: "wrap" }, adjustmentList((d.adjustments || []).filter((a) => a.denial)), remarkList(d.remarks)),
        h("td", { class: "num" }, `${money(d.charge)} / ${money(d.paid)}`),
        h("td", { class: "wrap" }, d.action || "—"),
        h("td", {}, d.payment_date || "—")))
        : h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No denials to rework."))));
    paint(seq, ...head, table);
  } catch (err) {
    paint(seq, ...head, errorBox(err));
  }
}

// ---------------------------------------------------------------------------------------------
// Second review (auditor): sampling + the encounters waiting for a verdict

async function viewReview(seq) {
  const rate = h("input", { id: "sample-rate", type: "number", min: 0, max: 100, step: 1, value: 10, required: true });
  const low = h("input", { id: "sample-low", type: "number", min: 0, max: 1, step: 0.05, value: 0.6, required: true });
  const seed = h("input", { id: "sample-seed", type: "number", min: 0, step: 1, placeholder: "random" });
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card filters", "aria-labelledby": "sample-title" },
    h("h2", { id: "sample-title" }, "Draw a second-review sample"),
    h("p", { class: "muted small" }, "A random share of coded encounters plus every encounter with a suggestion below the confidence threshold."),
    h("label", { for: "sample-rate" }, "Random share (%)"), rate,
    h("label", { for: "sample-low" }, "Low-confidence threshold (0–1)"), low,
    h("label", { for: "sample-seed" }, "Seed (optional)"), seed,
    h("button", { type: "submit", class: "btn primary" }, "Draw sample"),
    result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = Number(rate.value);
    const l = Number(low.value);
    if (!(r >= 0 && r <= 100) || !(l >= 0 && l <= 1)) {
      result.replaceChildren(h("p", { class: "error-box", role: "alert" }, "The share is 0–100% and the threshold 0–1."));
      return;
    }
    try {
      const res = await api("POST", "/api/review/sample", {
        body: { rate: r / 100, low_confidence_below: l, ...(seed.value !== "" ? { seed: Number(seed.value) } : {}) },
      });
      const ids = res.selected || [];
      result.replaceChildren(h("p", {}, ids.length ? `${ids.length} encounter(s) sent to second review: ` : "No encounter was selected.",
        ids.flatMap((id, i) => [i ? ", " : "", h("a", { href: `#/encounter/${seg(id)}` }, `#${id}`)])));
      loadWaiting();
    } catch (err) {
      result.replaceChildren(h("p", { class: "error-box", role: "alert" }, err.message));
    }
  });
  const waiting = h("section", { class: "card", "aria-labelledby": "waiting-title" }, h("h2", { id: "waiting-title" }, "Waiting for a verdict"));
  async function loadWaiting() {
    try {
      const data = await api("GET", "/api/encounters", { query: { status: "second_review", sort: "age", limit: 50 } });
      const items = data.items || [];
      rememberQueue(items.map((e) => e.id), { status: "second_review", sort: "age", limit: 50, offset: 0 });
      waiting.replaceChildren(h("h2", { id: "waiting-title" }, `Waiting for a verdict (${data.total ?? items.length})`),
        items.length ? h("table", { class: "grid" },
          h("thead", {}, h("tr", {}, ["Encounter", "Specialty", "Date of service", "Lowest confidence", "Codes"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, items.map((e) => h("tr", {},
            h("td", {}, h("a", { href: `#/encounter/${seg(e.id)}` }, e.external_id || `#${e.id}`)),
            h("td", {}, e.specialty || "—"), h("td", {}, e.date_of_service || "—"),
            h("td", { class: "num" }, e.min_confidence === null || e.min_confidence === undefined ? "—" : pct(e.min_confidence, 0)),
            h("td", { class: "num" }, e.n_suggestions ?? "—")))))
          : h("p", { class: "muted" }, "Nothing is waiting for second review."));
    } catch (err) {
      waiting.append(errorBox(err));
    }
  }
  if (!paint(seq, h("h1", {}, "Second review"), h("div", { class: "two-col" }, form, waiting))) return;
  loadWaiting();
}

// ---------------------------------------------------------------------------------------------
// Audit log

async function viewAudit(seq, params) {
  const q = { encounter_id: params.get("encounter_id") || "", user: params.get("user") || "", limit: 50, offset: Number(params.get("offset") || 0) };
  const form = h("form", { class: "filters", "aria-label": "Filter the audit log" },
    h("label", { for: "audit-encounter" }, "Encounter id "), h("input", { id: "audit-encounter", name: "encounter_id", value: q.encounter_id, size: 8 }),
    h("label", { for: "audit-user" }, "User "), h("input", { id: "audit-user", name: "user", value: q.user, size: 12 }),
    h("button", { type: "submit", class: "btn primary" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    go("/audit", { encounter_id: String(f.get("encounter_id")).trim(), user: String(f.get("user")).trim() });
  });
  const head = [h("h1", {}, "Audit log"), form];
  paint(seq, ...head, h("p", { class: "muted" }, "Loading…"));
  let data;
  try {
    data = await api("GET", "/api/audit", { query: q });
  } catch (err) {
    paint(seq, ...head, errorBox(err));
    return;
  }
  const items = data.items || [];
  const total = Number(data.total || 0);
  const json = (v) => (v === null || v === undefined ? "—" : JSON.stringify(v, null, 1));
  const short = (v) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
  // The fields a write changed, "field: before → after" (all fields of a creation).
  const changes = (before, after) => {
    const b = before || {};
    const a = after || {};
    return [...new Set([...Object.keys(b), ...Object.keys(a)])]
      .filter((key) => JSON.stringify(b[key]) !== JSON.stringify(a[key]))
      .slice(0, 6)
      .map((key) => h("li", {}, h("span", { class: "mono" }, key), ": ",
        before ? [h("span", { class: "old" }, short(b[key])), " → "] : null, h("span", { class: "new" }, short(a[key]))));
  };
  const table = h("table", { class: "grid audit" },
    h("caption", { class: "sr-only" }, "Audit log entries, newest first"),
    h("thead", {}, h("tr", {}, ["When", "User", "Action", "Entity", "Encounter", "Change"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.length ? items.map((a) => h("tr", { "data-audit-id": a.id },
      h("td", {}, fmtTime(a.at)),
      h("td", {}, a.user ?? "—"),
      h("td", { class: "mono action" }, a.action),
      h("td", {}, `${a.entity ?? ""} ${a.entity_id ?? ""}`.trim()),
      h("td", {}, a.encounter_id ? h("a", { href: `#/encounter/${seg(a.encounter_id)}` }, `#${a.encounter_id}`) : "—"),
      h("td", {}, h("ul", { class: "changes" }, changes(a.before, a.after)), h("details", {}, h("summary", {}, "before / after"),
        h("div", { class: "diff" }, h("pre", { "aria-label": "Before" }, json(a.before)), h("pre", { "aria-label": "After" }, json(a.after)))))))
      : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No entries match."))));
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", class: "btn", disabled: q.offset <= 0 ? true : null, onclick: () => go("/audit", { ...q, limit: null, offset: Math.max(0, q.offset - q.limit) || null }) }, "← Newer"),
    h("span", {}, `${total ? q.offset + 1 : 0}–${q.offset + items.length} of ${total}`),
    h("button", { type: "button", class: "btn", disabled: q.offset + q.limit >= total ? true : null, onclick: () => go("/audit", { ...q, limit: null, offset: q.offset + q.limit }) }, "Older →"));
  paint(seq, ...head, table, pager);
}

// ---------------------------------------------------------------------------------------------
// Manager dashboard

const ACCURACY_TARGET = 0.95;

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

/** by_day lists active days only; charts want every day of the period (up to ~3 months) on the x axis. */
function everyDay(from, to, byDay) {
  const known = new Map(byDay.map((d) => [String(d.day), d]));
  const start = new Date(`${from}T00:00:00Z`);
  const end = new Date(`${to}T00:00:00Z`);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end < start || end - start > 92 * 86400000) {
    return byDay;
  }
  const out = [];
  for (let d = start; d <= end; d = new Date(d.getTime() + 86400000)) {
    const day = isoDay(d);
    out.push(known.get(day) || { day, coded: 0, accepted: 0, modified: 0, rejected: 0 });
  }
  return out;
}

async function viewDashboard(seq, params) {
  const today = new Date();
  const from = params.get("from") || isoDay(new Date(today.getTime() - 29 * 86400000));
  const to = params.get("to") || isoDay(today);
  const form = h("form", { class: "filters", "aria-label": "Period" },
    h("label", { for: "kpi-from" }, "From "), h("input", { id: "kpi-from", name: "from", type: "date", value: from }),
    h("label", { for: "kpi-to" }, "To "), h("input", { id: "kpi-to", name: "to", type: "date", value: to }),
    h("button", { type: "submit", class: "btn primary" }, "Show"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    go("/dashboard", { from: f.get("from"), to: f.get("to") });
  });
  const head = [h("h1", {}, "Dashboard"), form];
  paint(seq, ...head, h("p", { class: "muted" }, "Loading…"));
  let k;
  try {
    k = await api("GET", "/api/kpis", { query: { from, to } });
  } catch (err) {
    paint(seq, ...head, errorBox(err));
    return;
  }
  const tile = (name, value, note, cls = "") => h("div", { class: `tile ${cls}`, role: "group", "aria-label": name },
    h("div", { class: "tile-name" }, name), h("div", { class: "tile-value" }, value), note ? h("div", { class: "tile-note" }, note) : null);
  const acc = k.accuracy;
  const accCls = acc === null || acc === undefined ? "" : acc >= ACCURACY_TARGET ? "good" : "bad";
  const tiles = h("div", { class: "tiles", "aria-label": "Key figures" },
    tile("Accuracy", pct(acc), `target ${pct(ACCURACY_TARGET, 0)} · ${k.audited ?? 0} audited`, accCls),
    tile("Coded", String(k.coded ?? "—"), "encounters in the period"),
    tile("Turnaround (median)", k.turnaround_hours_median === null || k.turnaround_hours_median === undefined ? "—" : `${fmtNum(k.turnaround_hours_median)} h`, "intake to coded"),
    tile("Charts per hour", fmtNum(k.charts_per_hour), "per coder"),
    tile("Accepted", pct(k.acceptance_rate), "of decided suggestions"),
    tile("Modified", pct(k.modification_rate)),
    tile("Rejected", pct(k.rejection_rate)),
    tile("Edit rate", k.edit_rate === null || k.edit_rate === undefined ? "—" : fmtNum(k.edit_rate, 2), "findings per claim"),
    tile("Denial rate", pct(k.denial_rate), k.denial_rate === null || k.denial_rate === undefined ? "no remittances yet" : `of ${k.remits} claim payments`),
    tile("Coding denials", pct(k.coding_denial_rate), "claim payments with a coding denial"),
    tile("First-pass resolution", pct(k.first_pass_resolution), "paid on the first answer"),
    tile("Days to pay (median)", k.days_to_pay_median === null || k.days_to_pay_median === undefined ? "—" : fmtNum(k.days_to_pay_median, 0), "submission to payment"));
  const days = everyDay(from, to, k.by_day || []);
  // Charts per hour, one bar per coder, on a common scale.
  const perHour = (k.by_coder || []).map((c) => Number(c.charts_per_hour) || 0);
  const coderRows = (k.by_coder || []).map((c) => ({
    name: `${c.user}: charts/hour`, value: c.charts_per_hour ?? null, max: Math.max(1, ...perHour), fmt: (v) => fmtNum(v), cls: "b-ok",
  }));
  const labels = days.map((d) => d.day);
  const charts = h("div", { class: "charts" },
    stackedBars("Encounters coded per day", labels, [{ name: "coded", values: days.map((d) => d.coded), cls: "b-main" }]),
    stackedBars("Decisions per day", labels, [
      { name: "accepted", values: days.map((d) => d.accepted), cls: "b-ok" },
      { name: "modified", values: days.map((d) => d.modified), cls: "b-mod" },
      { name: "rejected", values: days.map((d) => d.rejected), cls: "b-bad" }]),
    rateBars("Accuracy against audits (95% bar)", [
      { name: "Encounters agreed", value: acc ?? null, target: ACCURACY_TARGET, cls: "b-main" },
      { name: "Codes agreed", value: k.code_accuracy ?? null, target: ACCURACY_TARGET, cls: "b-main" }]),
    rateBars("Suggestion decisions", [
      { name: "Accepted", value: k.acceptance_rate ?? null, cls: "b-ok" },
      { name: "Modified", value: k.modification_rate ?? null, cls: "b-mod" },
      { name: "Rejected", value: k.rejection_rate ?? null, cls: "b-bad" }]),
    rateBars("Turnaround and throughput", [
      { name: "Median turnaround", value: k.turnaround_hours_median ?? null, max: Math.max(24, k.turnaround_hours_median || 0), fmt: (v) => `${fmtNum(v)} h`, cls: "b-main" },
      ...coderRows]),
    rateBars("Claim edits and denials", [
      { name: "Edit findings per claim", value: k.edit_rate ?? null, max: Math.max(1, k.edit_rate || 0), fmt: (v) => fmtNum(v, 2), cls: "b-mod" },
      { name: "Denial rate", value: k.denial_rate ?? null, cls: "b-bad" },
      { name: "Coding denial rate", value: k.coding_denial_rate ?? null, cls: "b-bad" },
      { name: "Line denial rate", value: k.line_denial_rate ?? null, cls: "b-mod" },
      { name: "First-pass resolution", value: k.first_pass_resolution ?? null, cls: "b-ok" }]),
  );
  const coders = k.by_coder || [];
  const cols = coders.length ? Object.keys(coders[0]) : [];
  const coderTable = coders.length
    ? h("table", { class: "grid" }, h("caption", {}, "By coder"),
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, label(c))))),
      h("tbody", {}, coders.map((row) => h("tr", {}, cols.map((c) => {
        const v = row[c];
        const show = typeof v === "number" && !Number.isInteger(v) ? (/rate|accuracy/.test(c) ? pct(v) : fmtNum(v, 2)) : v ?? "—";
        return h("td", { class: typeof v === "number" ? "num" : null }, String(show));
      })))))
    : null;
  paint(seq, ...head, tiles, charts, coderTable);
}

// ---------------------------------------------------------------------------------------------
// Users (admin)

async function viewUsers(seq) {
  const name = h("input", { id: "new-username", required: true, autocomplete: "off" });
  const pass = h("input", { id: "new-password", type: "password", required: true, autocomplete: "new-password" });
  const role = h("select", { id: "new-role" }, ["coder", "auditor", "manager", "admin"].map((r) => h("option", { value: r }, r)));
  const msg = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card filters", "aria-labelledby": "new-user-title" },
    h("h2", { id: "new-user-title" }, "New user"),
    h("label", { for: "new-username" }, "Username"), name, h("label", { for: "new-password" }, "Password"), pass,
    h("label", { for: "new-role" }, "Role"), role, h("button", { type: "submit", class: "btn primary" }, "Create"), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/api/users", { body: { username: name.value.trim(), password: pass.value, role: role.value } });
      toast(`Created ${name.value.trim()}`, "ok");
      viewUsers(renderSeq);
    } catch (err) {
      msg.replaceChildren(h("p", { class: "error-box", role: "alert" }, err.message));
    }
  });
  try {
    const data = await api("GET", "/api/users");
    const users = Array.isArray(data) ? data : data.items || [];
    paint(seq, h("h1", {}, "Users"), h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["Id", "Username", "Role"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, users.map((u) => h("tr", {}, h("td", {}, u.id), h("td", {}, u.username), h("td", {}, u.role))))), form);
  } catch (err) {
    paint(seq, h("h1", {}, "Users"), errorBox(err));
  }
}

// ---------------------------------------------------------------------------------------------
// Keyboard shortcuts

function openHelp() {
  const d = $("#help-dialog");
  if (!d.open) d.showModal();
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target) || $("dialog[open]")) return;
  if (!session.token) return;
  if (ev.key === "?") {
    ev.preventDefault();
    openHelp();
    return;
  }
  if (current.page === "queue" && ev.key === "n") {
    // From the queue, n opens its first encounter.
    const first = $("table.queue tbody tr[data-id]");
    if (first) {
      ev.preventDefault();
      location.hash = `#/encounter/${seg(first.dataset.id)}`;
    }
    return;
  }
  if (current.page !== "encounter" || !enc.data) return;
  const sugs = enc.data.suggestions || [];
  const decidable = () => {
    const s = sugs[enc.selected];
    if (!may("decide")) toast(`Your role (${session.user?.role}) cannot decide codes.`);
    else if (!s) toast("There is no code to decide.");
    else if (s.status === "added") toast(`${s.code} was added by a coder; reject it and add another code instead.`);
    else if (!OPEN_FOR_DECISIONS.includes(enc.data.status)) toast(`Codes cannot be decided while the encounter is ${label(enc.data.status)}.`);
    else return true;
    return false;
  };
  const keys = {
    j: () => select(enc.selected + 1, true),
    k: () => select(enc.selected - 1, true),
    a: () => decidable() && decide(enc.selected, "accept"),
    m: () => decidable() && decide(enc.selected, "modify"),
    r: () => decidable() && decide(enc.selected, "reject"),
    q: () => sugs.length && may("query") && draftQuery(enc.selected),
    n: () => openNextEncounter(),
    "/": () => {
      const input = $("#code-search");
      input?.focus();
      input?.select();
    },
  };
  const fn = keys[ev.key];
  if (fn) {
    ev.preventDefault();
    fn();
  }
});

// ---------------------------------------------------------------------------------------------
// Start

$("#help-close").addEventListener("click", () => $("#help-dialog").close());
$(".skip").addEventListener("click", (ev) => {
  ev.preventDefault();
  main().focus();
});
window.addEventListener("hashchange", route);
// Errors never reach the console with their data: show a generic message instead.
window.addEventListener("unhandledrejection", (ev) => {
  ev.preventDefault();
  toast(ev.reason instanceof ApiError ? ev.reason.message : "Something went wrong.", "error");
});
route();
