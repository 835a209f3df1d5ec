// Verify: two photos side by side, the face used in each outlined, the similarity against the threshold
// and what that threshold means (the operating point's measured false-accept rate).

import { call, curlFor } from "./api.js";
import { drawFace, figure } from "./overlay.js";
import { bar, clear, dropzone, el, errorBox, fmtNumber, imageUrl, keyValues, pct, rawPanel } from "./ui.js";

const $ = (id) => document.getElementById(id);
const sides = { a: null, b: null };
// Each comparison gets a number; one that a newer comparison overtook drops its answers (no stale verdict).
let latest = 0;

function showPhoto(side, entry, detected) {
  const box = clear($(`verify-figure-${side}`));
  const note = $(`verify-note-${side}`);
  if (!detected) {
    box.append(el("img", { src: imageUrl(entry.file), alt: entry.path, class: "photo" }));
    note.textContent = entry.path;
    return;
  }
  const { root, overlay, unit } = figure(imageUrl(entry.file), detected.width, detected.height, entry.path);
  // Faces are largest first (docs/api.md) and verify uses the largest: face 0 is the one compared.
  detected.faces.forEach((face, i) => drawFace(overlay, face, i, unit,
    { variant: i === 0 ? "used" : "other", label: i === 0 ? "compared" : "", landmarks: false }));
  box.append(root);
  const n = detected.faces.length;
  note.textContent = n === 0 ? `${entry.path}: no face found`
    : n === 1 ? `${entry.path}: one face` : `${entry.path}: ${n} faces; the largest (outlined) is compared`;
}

/** "0 of 104 impostor pairs accepted" with an honest reading of a zero count. */
function rateSentence(rates) {
  const fa = rates.false_accepts;
  const n = rates.impostor_pairs;
  const fr = rates.false_rejects;
  const g = rates.genuine_pairs;
  const far = fa === 0
    ? `none of ${n} impostor pairs was accepted (false-accept rate below about ${pct(3 / n)}, 95% confidence)`
    : `${fa} of ${n} impostor pairs were accepted (false-accept rate ${rates.false_accept_rate.toExponential(2)})`;
  const frr = `${fr} of ${g} genuine pairs were rejected (false-reject rate ${pct(rates.false_reject_rate)})`;
  return `${far}; ${frr}.`;
}

function meaning(point) {
  const box = el("div", { class: "meaning", id: "verify-meaning" });
  box.append(el("p", {}, `Threshold ${fmtNumber(point.threshold)} for ${point.model} is cosine ${fmtNumber(point.cosine_threshold)}. `,
    point.rates ? `On the measured pairs at this threshold ${rateSentence(point.rates)}`
      : "This embedder has no measured ROC on this server: its error rates are unknown."));
  if (point.rates) {
    box.dataset.far = String(point.rates.false_accept_rate);
    box.append(el("p", { class: "note" }, `Measured on: ${point.rates.measured_on}.`));
    if (point.rates.impostor_pairs < 1000) {
      box.append(el("p", { class: "warn" },
        `Only ${point.rates.impostor_pairs} impostor pairs: a false-accept rate under ${pct(1 / point.rates.impostor_pairs)} cannot be read from them.`));
    }
  }
  box.append(el("p", { class: "note" }, `Calibration: ${point.calibration_measured_on}.`));
  if (point.calibration && Object.keys(point.calibration).length) {
    box.append(el("details", { class: "nested" }, el("summary", {}, "calibration table row"), keyValues(point.calibration, 1)));
  }
  return box;
}

async function compare() {
  if (!sides.a || !sides.b) return;
  const mine = ++latest;
  const errors = clear($("verify-errors"));
  const result = $("verify-result");
  const raw = clear($("verify-raw"));
  result.hidden = false;
  result.dataset.verdict = "pending";
  clear(result).append(el("p", { class: "note" }, "comparing…"));
  const threshold = $("verify-threshold").value;
  const request = { form: { image_a: sides.a.file, image_b: sides.b.file, threshold } };
  const detectRequest = (side) => ({ form: { image: sides[side].file, landmarks: "false", pose: "false" } });
  const [verified, detA, detB, point] = await Promise.allSettled([
    call("POST", "/v1/verify", request),
    call("POST", "/v1/detect", detectRequest("a")),
    call("POST", "/v1/detect", detectRequest("b")),
    call("GET", "/v1/verify/operating-point", { query: { threshold } }),
  ]);
  if (mine !== latest) return;
  for (const [side, det] of [["a", detA], ["b", detB]]) {
    if (det.status === "fulfilled") showPhoto(side, sides[side], det.value.data);
  }
  clear(result);
  if (verified.status === "rejected") {
    result.dataset.verdict = "error";
    result.hidden = true;
    errors.append(errorBox(verified.reason, "verify"));
    raw.append(el("div", { class: "curl" }, el("code", {}, curlFor("POST", "/v1/verify", request))));
    return;
  }
  const v = verified.value.data;
  result.dataset.verdict = v.match ? "match" : "no-match";
  const scale = el("div", { class: "similarity" },
    bar(v.similarity, 1, v.match ? "is-match" : "is-no-match"),
    el("span", { class: "threshold-mark", title: `threshold ${v.threshold}`, dataset: { threshold: String(v.threshold) } }));
  result.append(
    el("h2", {}, v.match ? "Same person" : "Different people"),
    el("p", { class: "big" }, `similarity ${fmtNumber(v.similarity)} `, v.match ? "≥" : "<", ` threshold ${fmtNumber(v.threshold)}`),
    scale,
    el("p", { class: "note" }, `model ${v.model} · cosine ${fmtNumber(v.cosine)} · ${Math.round(verified.value.ms)} ms`));
  positionMark(scale, v.threshold);
  if (point.status === "fulfilled") result.append(meaning(point.value.data));
  else result.append(errorBox(point.reason, "operating point"));
  raw.append(rawPanel("response JSON", v, curlFor("POST", "/v1/verify", request), true));
}

// The threshold marker sits at the threshold's place along the bar (CSSOM, which the CSP allows).
function positionMark(scale, threshold) {
  scale.querySelector(".threshold-mark").style.left = `${Math.min(1, Math.max(0, threshold)) * 100}%`;
}

function setSide(side, entry) {
  sides[side] = entry;
  showPhoto(side, entry, null);
  $("verify-run").disabled = !(sides.a && sides.b);
  if (sides.a && sides.b) compare();
}

export function initVerify() {
  for (const side of ["a", "b"]) {
    dropzone($(`verify-drop-${side}`), [$(`verify-input-${side}`)], (files) => setSide(side, files[0]));
  }
  $("verify-run").addEventListener("click", compare);
  $("verify-swap").addEventListener("click", () => {
    [sides.a, sides.b] = [sides.b, sides.a];
    for (const s of ["a", "b"]) if (sides[s]) showPhoto(s, sides[s], null);
    if (sides.a && sides.b) compare();
  });
  $("verify-threshold").addEventListener("change", () => { if (sides.a && sides.b) compare(); });
  return {
    paste(entry) {
      setSide(!sides.a ? "a" : "b", entry);
    },
  };
}
