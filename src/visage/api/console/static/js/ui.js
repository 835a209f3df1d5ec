// Small DOM helpers shared by the tabs: elements, errors, drop zones, generic value rendering, raw panels.

import { ApiError } from "./api.js";

/** el("div", {class: "x", dataset: {a: 1}}, child, "text") */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// What each API error means for the person looking at the page.
const HINTS = {
  invalid_image: "The file is not an image visage can read (JPEG, PNG, WebP, BMP or GIF), or it is corrupt.",
  empty_image: "The file is empty.",
  invalid_base64: "The image text is not valid base64.",
  image_too_small: "The image is too small: its shorter side is under the server's minimum.",
  image_too_large: "The image file is larger than the server accepts (VISAGE_MAX_IMAGE_BYTES).",
  image_too_many_pixels: "The image has more pixels than the server accepts (VISAGE_MAX_IMAGE_PIXELS).",
  request_too_large: "The upload is larger than the server accepts (VISAGE_MAX_REQUEST_BYTES).",
  no_face: "No face was found in the photo.",
  throttled: "The server is busy: too many requests are in flight (429).",
  timeout: "The server took too long on this image (VISAGE_REQUEST_TIMEOUT_S).",
  model_unavailable: "The models are not loaded (still loading, or they failed: see /readyz).",
  unauthorized: "The server needs a valid API key.",
  forbidden: "This action needs an admin key; the key in use is read-only.",
  not_found: "Not found.",
  already_exists: "It already exists.",
  template_model_mismatch: "The two templates come from different models and cannot be compared.",
  invalid_parameter: "The request was refused as invalid.",
  internal_error: "The server hit an internal error (details are in its log, under the request id).",
  network_error: "The server could not be reached.",
};

/** A visible error box for ``error`` (ApiError or any Error), with what it means and its request id. */
export function errorBox(error, context = "") {
  const api = error instanceof ApiError;
  const code = api ? error.code : "console_error";
  const hint = HINTS[code] || (api ? `The server answered HTTP ${error.status}.` : "The console hit an error.");
  let detail = error.message || String(error);
  if (api && error.status === 429 && error.retryAfter) detail += ` Retry after ${error.retryAfter} s.`;
  const meta = [];
  if (api && error.status) meta.push(`HTTP ${error.status}`);
  meta.push(code);
  if (api && error.requestId) meta.push(`request ${error.requestId}`);
  return el("div", { class: "error", role: "alert", dataset: { errorCode: code } },
    el("strong", {}, context ? `${context}: ${hint}` : hint),
    el("span", { class: "error-detail" }, detail),
    el("small", {}, meta.join(" · ")));
}

export function showError(container, error, context = "") {
  container.append(errorBox(error, context));
}

// Drop zones -------------------------------------------------------------------------------------------

async function entryFiles(entry, prefix = "") {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return [{ file, path: prefix + file.name }];
  }
  if (entry.isDirectory) {
    const reader = entry.createReader();
    const out = [];
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) out.push(...(await entryFiles(child, `${prefix}${entry.name}/`)));
    }
    return out;
  }
  return [];
}

/**
 * Wire a drop zone: files dropped on ``zone`` or picked with the inputs go to ``onFiles([{file, path}])``.
 * Folders dropped are walked recursively; ``path`` is relative to what was dropped (or picked).
 */
export function dropzone(zone, inputs, onFiles) {
  zone.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    const items = [...(ev.dataTransfer.items || [])];
    const entries = items.map((it) => (it.webkitGetAsEntry ? it.webkitGetAsEntry() : null)).filter(Boolean);
    let files;
    if (entries.length) {
      files = (await Promise.all(entries.map((e) => entryFiles(e)))).flat();
    } else {
      files = [...ev.dataTransfer.files].map((file) => ({ file, path: file.name }));
    }
    if (files.length) onFiles(files);
  });
  for (const input of inputs) {
    input.addEventListener("change", () => {
      const files = [...input.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
      input.value = "";
      if (files.length) onFiles(files);
    });
  }
}

// Generic rendering of whatever the API returns ----------------------------------------------------------

export function fmtNumber(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return String(Number(v.toFixed(a >= 100 ? 1 : a >= 1 ? 2 : 4)));
}

function isPointList(v) {
  return Array.isArray(v) && v.length > 0 && v.every((p) => Array.isArray(p) && p.every((n) => typeof n === "number"));
}

/** A compact, readable rendering of any JSON value (objects of scores as small bars). */
export function renderValue(value, depth = 0) {
  if (value === null || value === undefined) return el("span", { class: "muted" }, "—");
  if (typeof value === "boolean") return el("span", { class: value ? "yes" : "no" }, value ? "yes" : "no");
  if (typeof value === "number") return el("span", { class: "num" }, fmtNumber(value));
  if (typeof value === "string") return el("span", {}, value);
  if (isPointList(value)) return el("span", { class: "muted" }, `${value.length} points`);
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== "object" || v === null)) return el("span", {}, value.map(String).join(", "));
    return el("span", { class: "muted" }, `${value.length} items`);
  }
  const keys = Object.keys(value);
  const numeric = keys.length > 1 && keys.every((k) => typeof value[k] === "number" && value[k] >= 0 && value[k] <= 1);
  if (numeric) return scoreBars(value);
  const primaryKey = ["value", "dominant", "type", "label"].find((k) => k in value && typeof value[k] !== "object");
  const wrap = el("span", { class: "value" });
  if (primaryKey) wrap.append(el("b", {}, renderValue(value[primaryKey], depth + 1)));
  const rest = keys.filter((k) => k !== primaryKey);
  if (!rest.length) return wrap;
  if (depth >= 2) {
    wrap.append(el("span", { class: "muted" }, ` ${rest.length} more`));
    return wrap;
  }
  const simple = rest.filter((k) => value[k] === null || typeof value[k] !== "object" || isPointList(value[k]));
  const nested = rest.filter((k) => !simple.includes(k));
  if (simple.length) {
    wrap.append(el("span", { class: "extra" },
      ...simple.map((k) => el("span", { class: "kv" }, `${k} `, renderValue(value[k], depth + 1)))));
  }
  for (const k of nested) {
    wrap.append(el("details", { class: "nested" }, el("summary", {}, k), keyValues(value[k], depth + 1)));
  }
  return wrap;
}

/** A horizontal bar filled to ``value / max`` (width set through the CSSOM, which the CSP allows). */
export function bar(value, max = 1, cls = "") {
  const fill = el("span", { class: "fill" });
  fill.style.width = `${Math.max(0, Math.min(1, value / (max || 1))) * 100}%`;
  return el("span", { class: `bar ${cls}`.trim(), role: "meter", "aria-valuenow": String(value),
    "aria-valuemin": "0", "aria-valuemax": String(max) }, fill);
}

function scoreBars(scores) {
  const list = el("span", { class: "scores" });
  const entries = Object.entries(scores).sort((a, b) => b[1] - a[1]);
  for (const [name, v] of entries) {
    list.append(el("span", { class: "score" }, el("span", { class: "score-name" }, name), bar(v, 1),
      el("span", { class: "num" }, fmtNumber(v))));
  }
  return list;
}

/** A <dl> of every key of ``obj`` (in the API's order). */
export function keyValues(obj, depth = 0) {
  const dl = el("dl", { class: "kvs" });
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    dl.append(el("dd", {}, renderValue(obj, depth)));
    return dl;
  }
  for (const [k, v] of Object.entries(obj)) dl.append(el("dt", {}, k), el("dd", {}, renderValue(v, depth)));
  return dl;
}

/** JSON with short number arrays (points, boxes) kept on one line. */
export function prettyJson(data) {
  return JSON.stringify(data, null, 2).replace(/\[\s+(-?[\d.eE+-]+(?:,\s+-?[\d.eE+-]+){0,3})\s+\]/g,
    (m, inner) => `[${inner.replace(/,\s+/g, ", ")}]`);
}

/** The raw JSON and the equivalent curl command of one request, with copy buttons. */
export function rawPanel(title, data, curl, open = false) {
  const json = prettyJson(data);
  const copy = (text, button) => {
    navigator.clipboard?.writeText(text).then(() => {
      button.textContent = "copied";
      setTimeout(() => { button.textContent = "copy"; }, 1200);
    }, () => { button.textContent = "select and copy"; });
  };
  const curlButton = el("button", { type: "button", class: "link" }, "copy");
  const jsonButton = el("button", { type: "button", class: "link" }, "copy");
  curlButton.addEventListener("click", () => copy(curl, curlButton));
  jsonButton.addEventListener("click", () => copy(json, jsonButton));
  return el("div", { class: "raw-panel" },
    el("div", { class: "curl" }, el("span", { class: "label" }, "curl"), curlButton, el("code", {}, curl)),
    el("details", { open: open || null }, el("summary", {}, title, " ", jsonButton), el("pre", { class: "json" }, json)));
}

/**
 * A bar per stage of ``timings_ms``, plus the browser's round trip. A stage named ``a.b`` is a part of
 * stage ``a`` when that is listed too: it is indented and left out of the sum.
 */
export function timingsTable(timings, roundTripMs) {
  const entries = Object.entries(timings || {}).filter(([, v]) => typeof v === "number");
  const names = new Set(entries.map(([k]) => k));
  const isPart = (name) => name.includes(".") && names.has(name.split(".")[0]);
  const total = entries.reduce((s, [k, v]) => s + (isPart(k) ? 0 : v), 0);
  const max = Math.max(roundTripMs || 0, total, 1);
  const table = el("table", { class: "timings" });
  const row = (name, ms, cls = "") => {
    table.append(el("tr", { class: cls }, el("th", {}, name), el("td", {}, bar(ms, max, cls)),
      el("td", { class: "num" }, `${fmtNumber(ms)} ms`)));
  };
  for (const [name, ms] of entries) row(isPart(name) ? ` ${name.split(".").slice(1).join(".")}` : name, ms, isPart(name) ? "part" : "");
  if (entries.length) row("server stages, sum", total, "sum");
  if (roundTripMs) row("round trip (browser)", roundTripMs, "sum");
  return table;
}

export function imageUrl(file) {
  return URL.createObjectURL(file);
}

export function pct(v) {
  return `${(100 * v).toFixed(1)}%`;
}
