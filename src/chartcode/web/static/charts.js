// Hand-drawn SVG charts for the manager dashboard. No library: a few bar charts are all we need.
// Every chart is a <figure> with an SVG (role="img", an aria-label that states the numbers) and a
// caption; values are also readable as <title> tooltips on each bar.

const SVG = "http://www.w3.org/2000/svg";

/** Round axis maximum and tick values for 0..max (pure). */
export function niceTicks(max, count = 4, integer = false) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  if (integer) step = Math.max(1, Math.ceil(step)); // counts: no 0.5 ticks
  const ticks = [];
  for (let v = 0; v < max + step - 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Format a 0..1 rate as a percentage, or an em dash when there is no value. */
export function pct(value, digits = 1) {
  return value === null || value === undefined || Number.isNaN(value) ? "—" : `${(value * 100).toFixed(digits)}%`;
}

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function figure(title, svg, summary) {
  const fig = document.createElement("figure");
  fig.className = "chart";
  const cap = document.createElement("figcaption");
  cap.textContent = title;
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${title}: ${summary}`);
  fig.append(cap, svg);
  return fig;
}

/**
 * Vertical (optionally stacked) bars, one group per category.
 * @param {string} title
 * @param {string[]} labels x categories (e.g. days)
 * @param {{name:string, values:number[], cls:string}[]} series stacked bottom to top
 */
export function stackedBars(title, labels, series, { width = 560, height = 190 } = {}) {
  const pad = { l: 40, r: 10, t: 10, b: 30 };
  const totals = labels.map((_, i) => series.reduce((s, se) => s + (Number(se.values[i]) || 0), 0));
  const ticks = niceTicks(Math.max(0, ...totals), 4, true);
  const top = ticks[ticks.length - 1] || 1;
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "chart-svg" });
  for (const t of ticks) {
    const y = pad.t + h - (t / top) * h;
    svg.append(el("line", { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: "grid" }));
    svg.append(el("text", { x: pad.l - 6, y: y + 4, "text-anchor": "end", class: "tick" }, String(t)));
  }
  const band = labels.length ? w / labels.length : w;
  const bw = Math.max(2, Math.min(36, band * 0.7));
  labels.forEach((label, i) => {
    const x = pad.l + i * band + (band - bw) / 2;
    let base = pad.t + h;
    for (const se of series) {
      const v = Number(se.values[i]) || 0;
      const bh = (v / top) * h;
      if (bh > 0) {
        const rect = el("rect", { x, y: base - bh, width: bw, height: bh, class: `bar ${se.cls}` });
        rect.append(el("title", {}, `${label} — ${se.name}: ${v}`));
        svg.append(rect);
      }
      base -= bh;
    }
    // Label every bar when few, else every n-th so labels never overlap.
    const every = Math.ceil(labels.length / 10);
    if (i % every === 0) {
      svg.append(el("text", { x: x + bw / 2, y: height - pad.b + 16, "text-anchor": "middle", class: "tick" },
        String(label).slice(5)));
    }
  });
  svg.append(el("line", { x1: pad.l, x2: width - pad.r, y1: pad.t + h, y2: pad.t + h, class: "axis" }));
  // The accessible summary lists the days with activity (a month of zeros would drown it).
  const busy = labels.map((l, i) => [l, i]).filter(([, i]) => totals[i] > 0);
  const summary = busy.length
    ? busy.map(([l, i]) => `${l} ${series.map((se) => `${se.name} ${Number(se.values[i]) || 0}`).join(", ")}`).join("; ")
    : "no data in this period";
  const fig = figure(title, svg, summary);
  if (series.length > 1) fig.append(legend(series));
  if (!busy.length) fig.append(Object.assign(document.createElement("p"), { className: "muted", textContent: "No data in this period." }));
  return fig;
}

function legend(series) {
  const ul = document.createElement("ul");
  ul.className = "legend";
  for (const se of series) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = `swatch ${se.cls}`;
    li.append(sw, document.createTextNode(se.name));
    ul.append(li);
  }
  return ul;
}

/**
 * Horizontal bars, one per row, with an optional target line (e.g. accuracy's 95% bar).
 * Rows are rates (0..1, shown as %) unless they give their own scale `max` and formatter `fmt`
 * (e.g. hours of turnaround, findings per claim); the % axis is drawn only when every row is a rate.
 * @param {{name:string, value:number|null, cls?:string, target?:number, max?:number, fmt?:(v:number)=>string}[]} rows
 */
export function rateBars(title, rows, { width = 560, rowHeight = 30 } = {}) {
  const pad = { l: 170, r: 80, t: 8, b: 22 };
  const height = pad.t + pad.b + rows.length * rowHeight;
  const w = width - pad.l - pad.r;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "chart-svg" });
  const allRates = rows.every((r) => r.max === undefined);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const x = pad.l + t * w;
    svg.append(el("line", { x1: x, x2: x, y1: pad.t, y2: height - pad.b, class: "grid" }));
    if (allRates) svg.append(el("text", { x, y: height - 6, "text-anchor": "middle", class: "tick" }, `${t * 100}%`));
  }
  const shown = (row, v) => (row.fmt ? (v === null || v === undefined || Number.isNaN(v) ? "—" : row.fmt(v)) : pct(v));
  rows.forEach((row, i) => {
    const y = pad.t + i * rowHeight;
    const max = row.max && row.max > 0 ? row.max : 1;
    svg.append(el("text", { x: pad.l - 8, y: y + rowHeight / 2 + 4, "text-anchor": "end", class: "label" }, row.name));
    const v = row.value;
    if (v !== null && v !== undefined && !Number.isNaN(v)) {
      const bar = el("rect", {
        x: pad.l, y: y + 6, width: Math.max(0, Math.min(1, v / max)) * w, height: rowHeight - 12,
        class: `bar ${row.cls || "b-main"}${row.target !== undefined && v < row.target ? " below" : ""}`,
      });
      bar.append(el("title", {}, `${row.name}: ${shown(row, v)}`));
      svg.append(bar);
    }
    svg.append(el("text", { x: pad.l + w + 8, y: y + rowHeight / 2 + 4, class: "value" }, shown(row, v)));
    if (row.target !== undefined) {
      const tx = pad.l + (row.target / max) * w;
      const line = el("line", { x1: tx, x2: tx, y1: y + 2, y2: y + rowHeight - 2, class: "target" });
      line.append(el("title", {}, `target ${row.fmt ? row.fmt(row.target) : pct(row.target, 0)}`));
      svg.append(line);
    }
  });
  const summary = rows.map((r) => `${r.name} ${shown(r, r.value)}${r.target !== undefined ? ` (target ${r.fmt ? r.fmt(r.target) : pct(r.target, 0)})` : ""}`)
    .join("; ");
  return figure(title, svg, summary);
}
