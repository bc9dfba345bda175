// Evidence highlighting: pure functions (no DOM), unit-tested in the browser by tests/web.
//
// The engine reports evidence as character offsets into the document text, counted in Unicode code
// points (Python str indices). JavaScript strings index UTF-16 code units, which differ as soon as the
// text holds a character outside the Basic Multilingual Plane (an emoji, some CJK). So every offset here
// is a code-point index into Array.from(text).

/**
 * Find where an evidence span really is in a document.
 * Trusts the offsets when the text there equals the evidence text; otherwise tries the offsets as UTF-16
 * indices, then the occurrence of the evidence text nearest to the reported start.
 * @param {string[]} cps the document as an array of code points
 * @param {{start:number, end:number, text?:string}} ev
 * @returns {{start:number, end:number} | null} code-point offsets, or null when the evidence is not found
 */
export function locate(cps, ev) {
  const n = cps.length;
  const start = Number(ev.start);
  const end = Number(ev.end);
  const want = typeof ev.text === "string" ? ev.text : null;
  const inRange = Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end > start && end <= n;
  if (inRange && (want === null || cps.slice(start, end).join("") === want)) return { start, end };
  if (!want) return null;
  const text = cps.join("");
  // The offsets may be UTF-16 indices (a producer in another language): convert them.
  if (Number.isInteger(start) && text.slice(start, start + want.length) === want) {
    const cpStart = Array.from(text.slice(0, start)).length;
    return { start: cpStart, end: cpStart + Array.from(want).length };
  }
  // Otherwise the occurrence nearest to where the evidence was said to be.
  let best = -1;
  for (let at = text.indexOf(want); at >= 0; at = text.indexOf(want, at + 1)) {
    const cpAt = Array.from(text.slice(0, at)).length;
    if (best < 0 || Math.abs(cpAt - start) < Math.abs(best - start)) best = cpAt;
  }
  return best < 0 ? null : { start: best, end: best + Array.from(want).length };
}

/**
 * Merge each suggestion's own overlapping spans (the engine may report a whole phrase and words inside it)
 * into one span per stretch of text. Spans of different suggestions are kept apart.
 * @param {{start:number, end:number, id:string}[]} spans
 * @returns {{start:number, end:number, id:string}[]} sorted by start, then longest first
 */
export function mergeOwn(spans) {
  const byId = new Map();
  for (const s of spans) {
    if (!(s.end > s.start)) continue;
    const id = String(s.id);
    if (!byId.has(id)) byId.set(id, []);
    byId.get(id).push({ start: s.start, end: s.end, id });
  }
  const out = [];
  for (const list of byId.values()) {
    list.sort((a, b) => a.start - b.start || b.end - a.end);
    let cur = null;
    for (const s of list) {
      if (cur && s.start < cur.end) cur.end = Math.max(cur.end, s.end);
      else {
        cur = { ...s };
        out.push(cur);
      }
    }
  }
  return out.sort((a, b) => a.start - b.start || b.end - a.end || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Arrange spans as a forest of nested marks, so that a span inside another becomes a child mark and
 * every mark's text is its whole evidence. A span that crosses the end of an enclosing one (partial
 * overlap) is cut there, and its rest continues after it.
 * @param {{start:number, end:number, id:string}[]} spans code-point offsets
 * @returns {{start:number, end:number, id:string, children:any[]}[]} roots in text order
 */
export function nest(spans) {
  const queue = mergeOwn(spans);
  const roots = [];
  const stack = [];
  while (queue.length) {
    const s = { ...queue.shift(), children: [] };
    while (stack.length && stack[stack.length - 1].end <= s.start) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent && s.end > parent.end) {
      // Crossing: keep the part inside the parent, queue the rest in order.
      const rest = { start: parent.end, end: s.end, id: s.id };
      s.end = parent.end;
      let at = queue.findIndex((q) => q.start > rest.start || (q.start === rest.start && q.end < rest.end));
      if (at < 0) at = queue.length;
      queue.splice(at, 0, rest);
    }
    (parent ? parent.children : roots).push(s);
    stack.push(s);
  }
  return roots;
}

/**
 * Flatten a text and its nested spans into pieces with the ids covering each (outermost first).
 * (Used by tests and anyone wanting a flat view; the workbench renders the nest() tree directly.)
 * @param {string} text
 * @param {{start:number, end:number, id:string}[]} spans
 * @returns {{text:string, start:number, end:number, ids:string[]}[]}
 */
export function segments(text, spans) {
  const cps = Array.from(text);
  const out = [];
  const walk = (nodes, from, to, ids) => {
    let at = from;
    for (const node of nodes) {
      if (node.start > at) out.push({ text: cps.slice(at, node.start).join(""), start: at, end: node.start, ids });
      walk(node.children, node.start, node.end, [...ids, node.id]);
      at = node.end;
    }
    if (to > at) out.push({ text: cps.slice(at, to).join(""), start: at, end: to, ids });
  };
  const n = cps.length;
  const clipped = spans.map((s) => ({ ...s, start: Math.max(0, Math.min(n, s.start)), end: Math.max(0, Math.min(n, s.end)) }));
  walk(nest(clipped), 0, n, []);
  return out;
}

/**
 * The spans of every suggestion's evidence that falls in one document.
 * Evidence without a document_id belongs to the first document (single-document encounters).
 * @param {{id:string|number, text:string}} doc
 * @param {boolean} isFirst whether doc is the encounter's first document
 * @param {{id:string|number, evidence?:{document_id?:string|number|null, start:number, end:number, text?:string}[]}[]} suggestions
 * @returns {{start:number, end:number, id:string}[]}
 */
export function spansFor(doc, isFirst, suggestions) {
  const cps = Array.from(doc.text || "");
  const spans = [];
  for (const sug of suggestions) {
    for (const ev of sug.evidence || []) {
      const docId = ev.document_id;
      const mine = docId === undefined || docId === null ? isFirst : String(docId) === String(doc.id);
      if (!mine) continue;
      const at = locate(cps, ev);
      if (at) spans.push({ start: at.start, end: at.end, id: String(sug.id) });
    }
  }
  return spans;
}
