// Analyze: each photo with its faces drawn, a card per face, timings, the raw JSON and the curl command.

import { call, curlFor } from "./api.js";
import { drawFace, figure, linkHover, PALETTE_SIZE } from "./overlay.js";
import { clear, dropzone, el, errorBox, fmtNumber, imageUrl, keyValues, rawPanel, renderValue, timingsTable } from "./ui.js";

const $ = (id) => document.getElementById(id);
// Face keys the card shows in its own way; any other key the API adds is listed as it comes.
const OWN_KEYS = new Set(["box", "confidence", "landmarks", "keypoints", "pose", "attributes", "quality", "template"]);

function options() {
  const set = $("analyze-landmarks").value;
  const form = {
    attributes: $("analyze-attributes").value.trim() || "all",
    pose: $("analyze-pose").checked ? "true" : "false",
    quality: $("analyze-quality").checked ? "true" : "false",
    landmarks: set === "native" ? "true" : "false",
  };
  if ($("analyze-icao").checked) form.icao = "true";
  if (!["native", "none"].includes(set)) form.keypoints = set;
  const maxFaces = $("analyze-max-faces").value;
  if (maxFaces) form.max_faces = maxFaces;
  return { form, set };
}

function faceCard(face, index, unsupported) {
  const card = el("article", { class: `face-card c${index % PALETTE_SIZE}`, dataset: { cardIndex: String(index) } });
  card.append(el("h3", {}, el("span", { class: "swatch" }), `Face #${index + 1}`,
    el("span", { class: "conf" }, `confidence ${fmtNumber(face.confidence)}`)));
  const dl = el("dl", { class: "kvs" });
  const row = (k, v) => dl.append(el("dt", {}, k), el("dd", {}, v));
  const b = face.box;
  row("box", `${Math.round(b.width)}×${Math.round(b.height)} px at (${Math.round(b.left)}, ${Math.round(b.top)})`);
  if (face.pose) row("pose", renderValue(face.pose));
  for (const [name, value] of Object.entries(face.attributes || {})) row(name, renderValue(value));
  for (const [name, value] of Object.entries(face)) if (!OWN_KEYS.has(name)) row(name, renderValue(value));
  if (face.keypoints) row("keypoints", `${face.keypoints.points.length} (${face.keypoints.set})`);
  if (Array.isArray(face.landmarks)) row("landmarks", `${face.landmarks.length} points`);
  if (face.template) row("template", `${face.template.model}, ${face.template.dim}-d`);
  card.append(dl);
  if (face.quality) {
    card.append(el("details", { class: "quality" }, el("summary", {}, "quality"), keyValues(face.quality, 1)));
  }
  if (unsupported && unsupported.length) {
    card.append(el("p", { class: "unsupported" }, "not supported by this pipeline: ", unsupported.join(", ")));
  }
  return card;
}

async function analyzeOne(entry, block) {
  const { form, set } = options();
  const file = entry.file;
  const request = { form: { image: file, ...form } };
  const curl = curlFor("POST", "/v1/analyze", request);
  const status = el("p", { class: "note" }, "analyzing…");
  block.append(status);
  let answer;
  try {
    answer = await call("POST", "/v1/analyze", request);
  } catch (exc) {
    status.remove();
    block.append(errorBox(exc, entry.path), el("div", { class: "curl" }, el("code", {}, curl)));
    block.dataset.state = "error";
    return;
  }
  status.remove();
  const data = answer.data;
  const { root, overlay, unit } = figure(imageUrl(file), data.width, data.height, entry.path);
  data.faces.forEach((face, i) => drawFace(overlay, face, i, unit, { landmarks: set !== "none" }));
  const cards = el("div", { class: "face-cards" });
  data.faces.forEach((face, i) => cards.append(faceCard(face, i, data.unsupported)));
  if (!data.faces.length) cards.append(el("p", { class: "note empty" }, "No face found in this photo."));
  const missing = set !== "native" && set !== "none" && data.faces.some((f) => !f.keypoints);
  const summary = el("p", { class: "summary" },
    `${data.faces.length} face${data.faces.length === 1 ? "" : "s"} · ${data.width}×${data.height} px · `,
    `request ${answer.requestId || "?"}`);
  if (missing) {
    summary.append(el("span", { class: "warn" },
      ` · the ${set} set needs the 468-point mesh; this pipeline's landmarks have no such mapping (choose "native")`));
  }
  block.append(summary,
    el("div", { class: "result-body" }, el("div", { class: "figure-wrap" }, root), cards),
    el("div", { class: "result-extra" },
      el("div", {}, el("h4", {}, "Timings"), timingsTable(data.timings_ms, answer.ms),
        el("h4", {}, "Models"), el("p", { class: "models" }, (data.models || []).join(", "))),
      el("div", {}, el("h4", {}, "Request"), rawPanel("response JSON", data, curl, true))));
  block.dataset.state = "done";
  block.dataset.faces = String(data.faces.length);
  linkHover(block);
}

export function initAnalyze() {
  const results = $("analyze-results");
  const queue = [];
  let running = false;
  async function pump() {
    if (running) return;
    running = true;
    while (queue.length) {
      const [entry, block] = queue.shift();
      try {
        await analyzeOne(entry, block);
      } catch (exc) {
        block.append(errorBox(exc, entry.path));
        block.dataset.state = "error";
      }
    }
    running = false;
  }
  function add(files) {
    const batch = document.createDocumentFragment();
    for (const entry of files) {
      const block = el("section", { class: "result", dataset: { state: "pending", file: entry.path } },
        el("h2", {}, entry.path));
      batch.append(block);
      queue.push([entry, block]);
    }
    results.prepend(batch);
    pump();
  }
  dropzone($("analyze-drop"), [$("analyze-input")], add);
  $("analyze-clear").addEventListener("click", () => clear(results));
  return { add };
}
