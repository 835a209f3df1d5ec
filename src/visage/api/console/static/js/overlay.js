// The photo with what visage saw drawn over it: an SVG in the image's pixel coordinates.

import { el, fmtNumber } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
export const PALETTE_SIZE = 8;

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  return node;
}

/**
 * A figure of ``url`` with an overlay sized ``width`` x ``height`` (the API's upright-image pixels;
 * browsers apply EXIF orientation the same way). Returns {root, overlay, unit} where ``unit`` is a
 * line width that reads well at this image size.
 */
export function figure(url, width, height, alt = "photo") {
  const img = el("img", { src: url, alt, class: "photo" });
  const overlay = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "overlay" });
  const root = el("div", { class: "figure" }, img, overlay);
  const unit = Math.max(width, height) / 500;
  return { root, overlay, unit };
}

function center(face) {
  const b = face.box;
  return [b.left + b.width / 2, b.top + b.height / 2];
}

/** Head-pose axes at the face centre: x (red, the face's right-to-left), y (green, up), z (blue, out of the face). */
function poseAxes(face, unit) {
  const { yaw, pitch, roll } = face.pose;
  const r = (d) => (d * Math.PI) / 180;
  const [cx, cy] = center(face);
  const len = Math.min(face.box.width, face.box.height) * 0.45;
  // Signs (docs/api.md): yaw > 0 turns to the image's right, pitch > 0 raises the chin, roll > 0 is clockwise.
  const axes = [
    ["pose-x", Math.cos(r(yaw)) * Math.cos(r(roll)), Math.cos(r(yaw)) * Math.sin(r(roll))],
    ["pose-y", Math.sin(r(roll)) * Math.cos(r(pitch)), -Math.cos(r(roll)) * Math.cos(r(pitch))],
    ["pose-z", Math.sin(r(yaw)) * Math.cos(r(pitch)), -Math.sin(r(pitch))],
  ];
  const g = svg("g", { class: "pose" });
  for (const [cls, dx, dy] of axes) {
    g.append(svg("line", { x1: cx, y1: cy, x2: cx + dx * len, y2: cy + dy * len, class: cls,
      "stroke-width": unit * 1.6 }));
  }
  const title = svg("title");
  title.textContent = `yaw ${fmtNumber(yaw)}°, pitch ${fmtNumber(pitch)}°, roll ${fmtNumber(roll)}°`;
  g.append(title);
  return g;
}

function points(list, unit, named) {
  const g = svg("g", { class: named ? "keypoints" : "landmarks" });
  const radius = unit * (named ? 1.3 : list.length > 100 ? 0.55 : 1.0);
  for (const p of list) {
    const [x, y, name] = Array.isArray(p) ? [p[0], p[1], null] : [p.x, p.y, p.name];
    const dot = svg("circle", { cx: x, cy: y, r: radius });
    if (name) {
      const title = svg("title");
      title.textContent = name;
      dot.append(title);
    }
    g.append(dot);
  }
  return g;
}

/**
 * Draw one face: its box (``data-face-index``), label, landmarks or named keypoints, and pose.
 * ``label`` overrides the number shown; ``variant`` adds a class ("used", "other").
 */
export function drawFace(overlay, face, index, unit, { label = null, variant = "", landmarks = true } = {}) {
  const b = face.box;
  const g = svg("g", { class: `face c${index % PALETTE_SIZE} ${variant}`.trim(), "data-face": index });
  g.append(svg("rect", { x: b.left, y: b.top, width: b.width, height: b.height, class: "face-box",
    "data-face-index": index, "stroke-width": unit * 2, rx: unit }));
  const text = label ?? `#${index + 1}`;
  const size = Math.max(unit * 9, Math.min(b.width / 4, unit * 16));
  const tag = svg("text", { x: b.left + unit, y: b.top - unit * 2, class: "face-label", "font-size": size });
  tag.textContent = text;
  g.append(tag);
  if (landmarks && face.keypoints && Array.isArray(face.keypoints.points)) g.append(points(face.keypoints.points, unit, true));
  else if (landmarks && isPointList(face.landmarks)) g.append(points(face.landmarks, unit, false));
  if (face.pose && ["yaw", "pitch", "roll"].every((k) => typeof face.pose[k] === "number")) g.append(poseAxes(face, unit));
  overlay.append(g);
  return g;
}

function isPointList(v) {
  return Array.isArray(v) && v.length > 0 && Array.isArray(v[0]);
}

/** Highlight face ``index`` in every overlay and card list inside ``scope`` while the pointer is on it. */
export function linkHover(scope) {
  const set = (index, on) => {
    scope.querySelectorAll(`[data-face="${index}"], [data-card-index="${index}"]`)
      .forEach((node) => node.classList.toggle("hl", on));
  };
  scope.addEventListener("pointerover", (ev) => {
    const node = ev.target.closest("[data-face], [data-card-index]");
    if (!node || !scope.contains(node)) return;
    const index = node.dataset.face ?? node.dataset.cardIndex ?? node.getAttribute("data-face");
    set(index, true);
  });
  scope.addEventListener("pointerout", (ev) => {
    const node = ev.target.closest("[data-face], [data-card-index]");
    if (!node) return;
    const index = node.dataset.face ?? node.dataset.cardIndex ?? node.getAttribute("data-face");
    set(index, false);
  });
}
