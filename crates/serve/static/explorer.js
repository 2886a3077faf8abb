// backlog-risk explorer: a scenario's controls and charts. Every figure is
// drawn from the numbers the server sends (SVG); nothing is fetched from any
// other host. A change is sent at once with few paths, then again with more
// (rounds) up to the page's path budget; an answer to an older change is
// dropped, and the server cancels the older run.
"use strict";

const app = document.getElementById("app");
const NAME = app.dataset.scenario;
const CLIENT = Math.random().toString(36).slice(2) + Date.now().toString(36);
// A first answer on few paths (noisy, but at once), then more.
const ROUNDS = [2000, 20000, 100000];
let meta = null;            // the scenario's controls, from the server
let changes = {};           // field -> value, only those that differ
let generation = 0;         // counts changes; an older answer is dropped
let provider = 0;           // index of the provider shown
let last = null;            // the latest answer

const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const money = (x) => x == null ? "-" : (x < 0 ? "-$" : "$") + Math.abs(x).toLocaleString("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 }) + "bn";
const signed = (x) => x == null ? "-" : (x >= 0 ? "+" : "-") + "$" + Math.abs(x).toFixed(1) + "bn";

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) {
    let msg = text;
    try { msg = JSON.parse(text).error; } catch (_) { /* the body is the message */ }
    const err = new Error(msg); err.status = r.status; throw err;
  }
  return text;
}

// A slider's range for a value: up to twice its size (at least 1), and
// down to 0 or, where the field may be negative, as far below 0; always
// inside the field's valid range [lo, hi] (null: unbounded), the one a
// file is checked against.
function range(v, lo, hi) {
  const reach = Math.max(1, 2 * Math.abs(v));
  const a = lo === null || lo < 0 ? Math.max(lo === null ? -Infinity : lo, -reach) : lo;
  const b = Math.min(hi === null ? Infinity : hi, reach);
  return [Math.min(a, v), Math.max(b, v), (Math.max(b, v) - Math.min(a, v)) / 200];
}

// A distribution's parameters in the order the docs write them.
const PARAM_ORDER = ["mean", "sd", "alpha", "beta", "min", "mode", "max", "lambda"];
function byParamOrder([a], [b]) {
  const rank = (k) => { const i = PARAM_ORDER.indexOf(k); return i < 0 ? PARAM_ORDER.length : i; };
  return rank(a) - rank(b);
}

function numberControl(field, key, value, valid, onChange) {
  const [lo, hi, step] = range(value, valid.lo, valid.hi);
  const slider = el("input", { type: "range", min: lo, max: hi, step: step, value: value, "aria-label": field + (key ? "." + key : "") });
  const box = el("input", { type: "number", step: "any", value: value, "data-field": field, "data-key": key || "" });
  slider.addEventListener("input", () => { box.value = slider.value; onChange(Number(slider.value)); });
  box.addEventListener("change", () => { if (box.value !== "") { slider.value = box.value; onChange(Number(box.value)); } });
  return el("span", { class: "num" }, slider, box);
}

function controls() {
  const root = el("section", { class: "controls" });
  for (const g of meta.groups) {
    const box = el("details", { open: "" }, el("summary", {}, g.title));
    if (g.note) box.append(el("p", { class: "note" }, g.note));
    for (const row of g.rows) {
      const line = el("div", { class: "row" }, el("label", { title: row.comment || "" }, row.field));
      const v = row.value;
      if (typeof v === "number") {
        line.append(numberControl(row.field, null, v, row, (x) => change(row.field, x === v ? null : x)));
      } else if (v && typeof v === "object") {
        const current = Object.assign({}, v);
        line.append(el("span", { class: "dist" }, String(v.dist)));
        for (const [k, x] of Object.entries(v).sort(byParamOrder)) {
          if (typeof x !== "number") continue;
          // A spread (sd, lambda, alpha, beta) is not a value of the field.
          const valid = ["min", "mode", "max", "mean"].includes(k) ? row : { lo: 0, hi: null };
          line.append(el("span", { class: "param" }, k + " ", numberControl(row.field, k, x, valid, (y) => {
            current[k] = y;
            const same = Object.keys(v).every((kk) => current[kk] === v[kk]);
            change(row.field, same ? null : Object.assign({}, current));
          })));
        }
      } else {
        line.append(el("span", { class: "dist" }, row.dist));
      }
      if (row.comment) line.append(el("p", { class: "help" }, row.comment));
      box.append(line);
    }
    root.append(box);
  }
  return root;
}

function change(field, value) {
  if (value === null) delete changes[field]; else changes[field] = value;
  refresh();
}

function budget() {
  const b = Number(document.getElementById("budget").value);
  return Math.max(1000, Math.min(meta.max_paths, Math.round(b) || meta.paths));
}

// Run the rounds for the current generation; stop when a newer one starts.
async function refresh() {
  const mine = ++generation;
  const top = budget();
  const rounds = ROUNDS.filter((n) => n < top).concat([top]);
  showError(null);
  for (let i = 0; i < rounds.length; i++) {
    const started = performance.now();
    let answer;
    try {
      answer = JSON.parse(await post("/api/run", { scenario: NAME, changes, paths: rounds[i], client: CLIENT, generation: mine }));
    } catch (e) {
      if (e.status === 409 || mine !== generation) return;
      showError(e.message); return;
    }
    if (mine !== generation) return;
    last = answer;
    draw();
    const ms = (performance.now() - started).toFixed(0);
    status(`${answer.paths.toLocaleString("en-US")} paths, seed ${answer.seed} (round ${i + 1} of ${rounds.length}, ${ms} ms)` + (i + 1 === rounds.length ? ": final" : ": refining..."));
  }
}

function status(text) { document.getElementById("status").textContent = text; }
function showError(msg) {
  const e = document.getElementById("error");
  e.textContent = msg || ""; e.hidden = !msg;
}

function headline(p) {
  const box = el("div", { class: "headline" });
  for (const [key, label] of [["mean", "Expected loss"], ["var99", "VaR99"], ["es99", "ES99"]]) {
    const f = p[key];
    const card = el("div", { class: "figure", "data-stat": key }, el("div", { class: "label" }, label),
      el("div", { class: "value" }, f ? money(f.estimate) : "-"),
      el("div", { class: "ci" }, f ? `95%: ${money(f.low)} to ${money(f.high)}` : ""));
    if (p.paired) {
      const d = p.paired[key];
      const text = d.diff == null ? "vs file: se needs 100,000 paths" : `vs file: ${signed(d.diff)}` + (d.se == null ? "" : `, se ${d.se.toFixed(1)}`);
      card.append(el("div", { class: "paired" }, text));
    }
    box.append(card);
  }
  return box;
}

// --- charts (SVG) -----------------------------------------------------------
const NS = "http://www.w3.org/2000/svg";
function svg(w, h) { const s = document.createElementNS(NS, "svg"); s.setAttribute("viewBox", `0 0 ${w} ${h}`); s.setAttribute("class", "chart"); return s; }
function add(parent, tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  parent.append(e); return e;
}
function scale(d0, d1, r0, r1) { const k = (r1 - r0) / ((d1 - d0) || 1); return (x) => r0 + (x - d0) * k; }
function ticks(lo, hi, n) {
  const step0 = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(step0 || 1)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || mag;
  const out = []; for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) out.push(t); return out;
}
function frame(s, W, H, L, B, xs, ys, xt, yt, title) {
  add(s, "text", { x: W / 2, y: 16, "text-anchor": "middle", class: "title" }, title);
  for (const t of yt) { add(s, "line", { x1: L, x2: W - 10, y1: ys(t), y2: ys(t), class: "grid" }); add(s, "text", { x: L - 4, y: ys(t) + 4, "text-anchor": "end" }, t.toLocaleString("en-US")); }
  for (const [t, label] of xt) add(s, "text", { x: xs(t), y: H - B + 16, "text-anchor": "middle" }, label);
}

function fanChart(p) {
  const W = 640, H = 300, L = 60, B = 30, T = 26;
  const s = svg(W, H), rows = p.fan, n = rows.length;
  const vals = rows.flatMap((r) => [r[1], r[5], r[6]]).filter((x) => x != null);
  const lo = Math.min(0, ...vals), hi = Math.max(...vals);
  const xs = scale(0, n - 1, L, W - 10), ys = scale(lo, hi, H - B, T);
  const xt = rows.map((r, i) => [i, r[0]]).filter((_, i) => i % 4 === 0);
  frame(s, W, H, L, B, xs, ys, xt, ticks(lo, hi, 5), `Backlog: ${p.display}, $bn (bands p5-p95, p25-p75; median; plan dashed)`);
  const band = (a, b, cls) => {
    const pts = rows.map((r, i) => `${xs(i)},${ys(r[a])}`).concat(rows.map((r, i) => [i, r]).reverse().map(([i, r]) => `${xs(i)},${ys(r[b])}`));
    add(s, "polygon", { points: pts.join(" "), class: cls });
  };
  band(1, 5, "outer"); band(2, 4, "inner");
  add(s, "polyline", { points: rows.map((r, i) => `${xs(i)},${ys(r[3])}`).join(" "), class: "median" });
  add(s, "polyline", { points: rows.map((r, i) => `${xs(i)},${ys(r[6])}`).join(" "), class: "plan" });
  return s;
}

function lossChart(p) {
  const W = 640, H = 260, L = 60, B = 30, T = 26, h = p.hist, n = h.counts.length;
  const s = svg(W, H), width = (h.hi - h.lo) / n, top = Math.max(1, ...h.counts);
  const xs = scale(h.lo, h.hi, L, W - 10), ys = scale(0, top, H - B, T);
  const xt = ticks(h.lo, h.hi, 6).map((t) => [t, t.toLocaleString("en-US")]);
  frame(s, W, H, L, B, xs, ys, xt, ticks(0, top, 4), `${p.display}: loss against plan at the horizon, $bn (paths per bin)`);
  const v = p.var99 && p.var99.estimate, e = p.es99 && p.es99.estimate;
  h.counts.forEach((c, i) => {
    const a = h.lo + i * width;
    add(s, "rect", { x: xs(a), y: ys(c), width: Math.max(0.5, xs(a + width) - xs(a) - 0.5), height: ys(0) - ys(c), class: v != null && a + width > v ? "tail" : "bar" });
  });
  for (const [x, label] of [[v, "VaR99"], [e, "ES99"]]) {
    if (x == null || x < h.lo || x > h.hi) continue;
    add(s, "line", { x1: xs(x), x2: xs(x), y1: T, y2: H - B, class: "mark" });
    // Labels left of the line: the tail is on the right.
    add(s, "text", { x: xs(x) - 3, y: T + 10 + (label === "ES99" ? 12 : 0), "text-anchor": "end", class: "marklabel" }, `${label} ${money(x)}`);
  }
  return s;
}

function exceedanceChart(p) {
  const W = 640, H = 260, L = 60, B = 30, T = 26;
  const pts = p.exceedance.filter(([x, q]) => x >= 0 && q > 0);
  const s = svg(W, H);
  if (pts.length < 2) return s;
  const x1 = Math.max(...pts.map((q) => q[0])), q0 = Math.min(...pts.map((q) => q[1]));
  const lq = Math.floor(Math.log10(q0));
  const xs = scale(0, x1, L, W - 10), ys = scale(lq, 0, H - B, T);
  const yt = []; for (let k = lq; k <= 0; k++) yt.push(k);
  frame(s, W, H, L, B, xs, (k) => ys(k), ticks(0, x1, 6).map((t) => [t, t.toLocaleString("en-US")]), [], `${p.display}: P(loss > x), log scale`);
  for (const k of yt) { add(s, "line", { x1: L, x2: W - 10, y1: ys(k), y2: ys(k), class: "grid" }); add(s, "text", { x: L - 4, y: ys(k) + 4, "text-anchor": "end" }, `${(100 * Math.pow(10, k)).toFixed(Math.max(0, -k - 2))}%`); }
  add(s, "polyline", { points: pts.map(([x, q]) => `${xs(x)},${ys(Math.log10(q))}`).join(" "), class: "median" });
  return s;
}

function draw() {
  if (!last) return;
  const p = last.providers[provider];
  const out = document.getElementById("results");
  out.replaceChildren(headline(p), fanChart(p), lossChart(p), exceedanceChart(p));
}

async function saveVariant() {
  try {
    const text = await post("/api/variant", { scenario: NAME, changes, paths: budget() });
    const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/toml" })), download: `${NAME}-variant.toml` });
    document.body.append(a); a.click(); a.remove();
  } catch (e) { showError(e.message); }
}

function reset() {
  changes = {};
  app.querySelector(".controls").replaceWith(controls());
  refresh();
}

async function start() {
  const r = await fetch(`/api/scenario/${encodeURIComponent(NAME)}`);
  if (!r.ok) { status((await r.json()).error); return; }
  meta = await r.json();
  provider = meta.focus;
  const pick = el("select", { id: "provider", onchange: () => { provider = Number(pick.value); draw(); } });
  meta.providers.forEach((p, i) => { const o = el("option", { value: i }, p.display); if (i === provider) o.selected = true; pick.append(o); });
  const bar = el("div", { class: "bar" },
    el("label", {}, "provider ", pick),
    el("label", {}, " paths ", el("input", { id: "budget", type: "number", min: 1000, max: meta.max_paths, step: 1000, value: Math.min(meta.paths, meta.max_paths), onchange: refresh })),
    el("button", { id: "reset", onclick: reset }, "Reset to the file"),
    el("button", { id: "save", onclick: saveVariant }, "Save as variant"));
  app.replaceChildren(bar, el("p", { id: "status" }, ""), el("p", { id: "error", class: "error", hidden: "" }),
    el("div", { class: "layout" }, controls(), el("section", { id: "results" })));
  refresh();
}

start();
