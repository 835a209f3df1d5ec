// Collections: list, create, delete; enrol many photos with a progress bar; search by photo; users; faces.

import { ApiError, call, callPatiently, curlFor } from "./api.js";
import { drawFace, figure, linkHover, PALETTE_SIZE } from "./overlay.js";
import { clear, dropzone, el, errorBox, fmtNumber, imageUrl, pct, rawPanel } from "./ui.js";

const $ = (id) => document.getElementById(id);
const path = (...parts) => `/v1/collections${parts.map((p) => `/${encodeURIComponent(p)}`).join("")}`;
let current = null;
let facesToken = null;

/** Every page of a listing (``key`` names the list in each page). */
async function listAll(url, key, query = {}) {
  const out = [];
  let token = null;
  do {
    const { data } = await call("GET", url, { query: { ...query, max_results: 1000, next_token: token } });
    out.push(...data[key]);
    token = data.next_token;
  } while (token);
  return out;
}

function twoStepButton(label, confirmLabel, action) {
  const button = el("button", { type: "button", class: "danger admin-only" }, label);
  let armed = false;
  let timer = null;
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmLabel;
      button.classList.add("armed");
      timer = setTimeout(() => { armed = false; button.textContent = label; button.classList.remove("armed"); }, 4000);
      return;
    }
    clearTimeout(timer);
    button.disabled = true;
    await action();
  });
  return button;
}

// The collection list --------------------------------------------------------------------------------

export async function loadCollections() {
  const errors = clear($("collections-errors"));
  const body = clear($("collections-table").querySelector("tbody"));
  let ids;
  try {
    ids = await listAll("/v1/collections", "collection_ids");
  } catch (exc) {
    errors.append(errorBox(exc, "listing collections"));
    return;
  }
  $("collections-empty").hidden = ids.length > 0;
  const described = await Promise.allSettled(ids.map((id) => call("GET", path(id))));
  ids.forEach((id, i) => {
    const d = described[i].status === "fulfilled" ? described[i].value.data : null;
    const open = el("button", { type: "button", class: "link", dataset: { collection: id } }, id);
    open.addEventListener("click", () => selectCollection(id));
    const del = twoStepButton("delete", `delete ${id}?`, async () => {
      try {
        await call("DELETE", path(id));
        if (current === id) { current = null; $("collection-detail").hidden = true; }
      } catch (exc) {
        errors.append(errorBox(exc, `deleting ${id}`));
      }
      loadCollections();
    });
    body.append(el("tr", { class: current === id ? "selected" : "", dataset: { collectionRow: id } },
      el("td", {}, open),
      el("td", { class: "num" }, d ? String(d.face_count) : "?"),
      el("td", { class: "num" }, d ? String(d.user_count) : "?"),
      el("td", {}, d ? `${d.model} (${d.dim}-d)` : errorBox(described[i].reason)),
      el("td", {}, del)));
  });
}

async function createCollection(ev) {
  ev.preventDefault();
  const input = $("collection-new-id");
  const id = input.value.trim();
  const errors = clear($("collections-errors"));
  if (!id) return;
  try {
    await call("POST", "/v1/collections", { json: { collection_id: id } });
    input.value = "";
    await loadCollections();
    await selectCollection(id);
  } catch (exc) {
    errors.append(errorBox(exc, `creating ${id}`));
  }
}

// One collection ---------------------------------------------------------------------------------------

async function describe() {
  const summary = $("collection-summary");
  try {
    const { data } = await call("GET", path(current));
    summary.textContent = `${data.face_count} faces · ${data.user_count} users · embedder ${data.model} `
      + `(${data.dim}-d) · created ${new Date(data.created_at).toLocaleString()}`;
    summary.dataset.faces = String(data.face_count);
  } catch (exc) {
    clear(summary).append(errorBox(exc, "describing the collection"));
  }
}

async function selectCollection(id) {
  current = id;
  $("collection-detail").hidden = false;
  $("collection-title").textContent = id;
  document.querySelectorAll("[data-collection-row]").forEach((row) =>
    row.classList.toggle("selected", row.dataset.collectionRow === id));
  clear($("enrol-report"));
  $("enrol-progress-row").hidden = true;
  clear($("search-results"));
  clear($("users-search-results"));
  await Promise.all([describe(), loadUsers(), loadFaces(true)]);
}

// Enrolment ----------------------------------------------------------------------------------------------

const SAFE = /[^A-Za-z0-9_.\-:]/g;

/** ``people/obama/obama2.jpg`` -> {externalId: "obama:obama2", user: "obama"} (the dropped root folder is dropped). */
export function enrolNames(relPath) {
  const parts = relPath.split("/").filter(Boolean);
  const inner = parts.length > 1 ? parts.slice(1) : parts;
  const last = inner[inner.length - 1].replace(/\.[^.]+$/, "");
  const externalId = [...inner.slice(0, -1), last].join(":").replace(SAFE, "_").slice(0, 255);
  const user = inner.length > 1 ? inner[0].replace(SAFE, "_") : null;
  return { externalId, user };
}

async function enrol(files) {
  if (!current) return;
  const collection = current;
  const report = clear($("enrol-report"));
  const visible = files.filter((f) => !f.path.split("/").some((p) => p.startsWith(".")));
  const progress = $("enrol-progress");
  const text = $("enrol-progress-text");
  $("enrol-progress-row").hidden = false;
  progress.max = Math.max(1, visible.length);
  progress.value = 0;
  progress.dataset.done = "false";
  const qualityFilter = $("enrol-quality-filter").value;
  const stats = { done: 0, faces: 0, failed: 0, unindexed: 0 };
  const byUser = new Map();
  const show = () => {
    progress.value = stats.done;
    text.textContent = `${stats.done} / ${visible.length} files (${pct(stats.done / Math.max(1, visible.length))}) · `
      + `${stats.faces} faces indexed · ${stats.unindexed} faces not indexed · ${stats.failed} files failed`;
  };
  show();
  if (files.length > visible.length) report.append(el("li", { class: "note" }, `skipped ${files.length - visible.length} hidden files`));
  const example = visible[0] && enrolNames(visible[0].path);
  if (example) {
    report.append(el("li", { class: "curl" }, el("span", { class: "label" }, "each file"),
      el("code", {}, curlFor("POST", path(collection, "faces"), { form: { image: visible[0].file,
        external_image_id: example.externalId, quality_filter: qualityFilter } }))));
  }
  const queue = [...visible];
  async function worker() {
    while (queue.length) {
      const entry = queue.shift();
      const { externalId, user } = enrolNames(entry.path);
      try {
        const { data } = await callPatiently("POST", path(collection, "faces"),
          { form: { image: entry.file, external_image_id: externalId, quality_filter: qualityFilter } });
        stats.faces += data.indexed.length;
        if (user && data.indexed.length) {
          if (!byUser.has(user)) byUser.set(user, []);
          byUser.get(user).push(...data.indexed.map((f) => f.face_id));
        }
        if (!data.indexed.length && !data.unindexed.length) {
          report.append(el("li", { class: "enrol-noface", dataset: { file: entry.path } }, `${entry.path}: no face found`));
        }
        for (const u of data.unindexed) {
          stats.unindexed += 1;
          report.append(el("li", { class: "enrol-unindexed", dataset: { file: entry.path } },
            `${entry.path}: a face at (${Math.round(u.box.left)}, ${Math.round(u.box.top)}) was not indexed: `,
            el("b", {}, u.reasons.join(", "))));
        }
      } catch (exc) {
        stats.failed += 1;
        report.append(el("li", { class: "enrol-failure", dataset: { file: entry.path } }, errorBox(exc, entry.path)));
      }
      stats.done += 1;
      show();
    }
  }
  await Promise.all([worker(), worker()]);
  if ($("enrol-users").checked) await makeUsers(collection, byUser, report);
  progress.dataset.done = "true";
  if (current === collection) await Promise.all([describe(), loadUsers(), loadFaces(true)]);
  loadCollections();
}

async function makeUsers(collection, byUser, report) {
  for (const [user, faceIds] of byUser) {
    try {
      await call("POST", path(collection, "users"), { json: { user_id: user } });
    } catch (exc) {
      if (!(exc instanceof ApiError && exc.code === "already_exists")) {
        report.append(el("li", { class: "enrol-failure" }, errorBox(exc, `user ${user}`)));
        continue;
      }
    }
    try {
      const { data } = await call("POST", path(collection, "users", user, "faces"), { json: { face_ids: faceIds } });
      const n = data.succeeded.length;
      const refused = Object.entries(data.failed || {});
      const reasons = [...new Set(refused.map(([, why]) => why))].join(", ");
      report.append(el("li", { class: "enrol-user" }, `user ${user}: ${n} face${n === 1 ? "" : "s"} associated`
        + (refused.length ? `, ${refused.length} refused (${reasons})` : "")));
    } catch (exc) {
      report.append(el("li", { class: "enrol-failure" }, errorBox(exc, `associating faces with ${user}`)));
    }
  }
}

// Search by photo ----------------------------------------------------------------------------------------

function matchCard(match, rank) {
  const f = match.face;
  return el("div", { class: "match", dataset: { match: String(rank), faceId: f.face_id } },
    el("span", { class: "sim" }, fmtNumber(match.similarity)),
    el("span", { class: "who" }, f.external_image_id || f.face_id),
    el("small", {}, f.user_id ? `user ${f.user_id} · ` : "", `face ${f.face_id.slice(0, 8)}…`));
}

let latestSearch = 0;

async function search(files) {
  if (!current) return;
  const mine = ++latestSearch;
  const entry = files[0];
  const out = clear($("search-results"));
  const request = { form: { image: entry.file, all_faces: "true", max_faces: $("search-max").value || 3,
    threshold: $("search-threshold").value } };
  const curl = curlFor("POST", path(current, "search"), request);
  out.append(el("p", { class: "note" }, `searching with ${entry.path}…`));
  let answer;
  try {
    answer = await call("POST", path(current, "search"), request);
  } catch (exc) {
    if (mine !== latestSearch) return;
    clear(out).append(errorBox(exc, `searching with ${entry.path}`), el("div", { class: "curl" }, el("code", {}, curl)));
    return;
  }
  if (mine !== latestSearch) return;
  const data = answer.data;
  clear(out);
  const { root, overlay, unit } = figure(imageUrl(entry.file), data.width, data.height, entry.path);
  const lists = el("div", { class: "face-cards" });
  data.results.forEach((r, i) => {
    const best = r.matches[0];
    drawFace(overlay, r, i, unit, { label: best ? `${best.face.external_image_id || "match"} ${fmtNumber(best.similarity)}` : `#${i + 1} no match` });
    const card = el("article", { class: `face-card c${i % PALETTE_SIZE}`, dataset: { cardIndex: String(i) } },
      el("h3", {}, el("span", { class: "swatch" }), `Face #${i + 1}`, el("span", { class: "conf" }, `confidence ${fmtNumber(r.confidence)}`)));
    if (r.matches.length) r.matches.forEach((m, k) => card.append(matchCard(m, k)));
    else card.append(el("p", { class: "note no-match" }, "no stored face above the threshold"));
    lists.append(card);
  });
  if (!data.results.length) lists.append(el("p", { class: "note empty" }, "No face found in the probe."));
  const block = el("div", { class: "search-result" },
    el("div", { class: "result-body" }, el("div", { class: "figure-wrap" }, root), lists),
    rawPanel("response JSON", data, curl));
  out.append(block);
  linkHover(block);
}

// Users --------------------------------------------------------------------------------------------------

async function loadUsers() {
  const body = clear($("users-table").querySelector("tbody"));
  const collection = current;
  let users;
  try {
    users = await listAll(path(collection, "users"), "users");
  } catch (exc) {
    body.append(el("tr", {}, el("td", { colspan: "4" }, errorBox(exc, "listing users"))));
    return;
  }
  if (!users.length) body.append(el("tr", {}, el("td", { colspan: "4", class: "note" }, "no users")));
  const select = clear($("associate-user"));
  for (const u of users) select.append(el("option", { value: u.user_id }, u.user_id));
  for (const u of users) {
    const del = twoStepButton("delete", "really?", async () => {
      try {
        await call("DELETE", path(collection, "users", u.user_id));
      } catch (exc) {
        body.append(el("tr", {}, el("td", { colspan: "4" }, errorBox(exc, `deleting ${u.user_id}`))));
        return;
      }
      await Promise.all([loadUsers(), describe()]);
    });
    body.append(el("tr", { dataset: { user: u.user_id } }, el("td", {}, u.user_id), el("td", { class: "num" }, String(u.face_ids.length)),
      el("td", {}, u.status), el("td", {}, del)));
  }
}

async function createUser(ev) {
  ev.preventDefault();
  const input = $("user-new-id");
  const id = input.value.trim();
  if (!id || !current) return;
  try {
    await call("POST", path(current, "users"), { json: { user_id: id } });
    input.value = "";
    await Promise.all([loadUsers(), describe()]);
  } catch (exc) {
    $("users-table").querySelector("tbody").prepend(el("tr", {}, el("td", { colspan: "4" }, errorBox(exc, `creating ${id}`))));
  }
}

/** Associate every stored face whose ExternalImageId starts with a prefix with the chosen user (100 at a time). */
async function associateByPrefix(ev) {
  ev.preventDefault();
  const prefix = $("associate-prefix").value;
  const user = $("associate-user").value;
  const status = clear($("associate-status"));
  if (!current || !user) return;
  const collection = current;
  try {
    const faces = (await listAll(path(collection, "faces"), "faces"))
      .filter((f) => (f.external_image_id || "").startsWith(prefix) && f.user_id !== user);
    let done = 0;
    let refused = 0;
    for (let i = 0; i < faces.length; i += 100) {
      const ids = faces.slice(i, i + 100).map((f) => f.face_id);
      const { data } = await call("POST", path(collection, "users", user, "faces"), { json: { face_ids: ids } });
      done += data.succeeded.length;
      refused += Object.keys(data.failed || {}).length;
    }
    status.textContent = `${done} face${done === 1 ? "" : "s"} associated with ${user}`
      + (refused ? `, ${refused} refused` : "") + (faces.length ? "" : " (no face matched the prefix)");
    await Promise.all([loadUsers(), loadFaces(true)]);
  } catch (exc) {
    status.append(errorBox(exc, `associating faces with ${user}`));
  }
}

async function searchUsers(files) {
  const entry = files[0];
  const out = clear($("users-search-results"));
  const request = { form: { image: entry.file } };
  const curl = curlFor("POST", path(current, "users", "search"), request);
  try {
    const { data } = await call("POST", path(current, "users", "search"), request);
    const list = el("div", { class: "user-matches" });
    for (const u of data.users) {
      list.append(el("div", { class: "match", dataset: { userMatch: u.user_id } },
        el("span", { class: "sim" }, fmtNumber(u.similarity)), el("span", { class: "who" }, u.user_id),
        el("small", {}, `best face ${u.best_face_id.slice(0, 8)}…`)));
    }
    if (!data.users.length) list.append(el("p", { class: "note no-match" }, "no user above the threshold"));
    out.append(list, rawPanel("response JSON", data, curl));
  } catch (exc) {
    out.append(errorBox(exc, `searching users with ${entry.path}`), el("div", { class: "curl" }, el("code", {}, curl)));
  }
}

// Faces --------------------------------------------------------------------------------------------------

async function loadFaces(reset) {
  const body = $("faces-table").querySelector("tbody");
  if (reset) { clear(body); facesToken = null; }
  const collection = current;
  try {
    const { data } = await call("GET", path(collection, "faces"), { query: { max_results: 100, next_token: facesToken } });
    facesToken = data.next_token;
    for (const f of data.faces) {
      const del = twoStepButton("delete", "really?", async () => {
        try {
          await call("POST", path(collection, "faces", "delete"), { json: { face_ids: [f.face_id] } });
        } catch (exc) {
          body.prepend(el("tr", {}, el("td", { colspan: "5" }, errorBox(exc, "deleting a face"))));
          return;
        }
        await Promise.all([loadFaces(true), describe(), loadUsers()]);
      });
      body.append(el("tr", { dataset: { faceId: f.face_id } }, el("td", {}, f.external_image_id || "—"),
        el("td", { title: f.face_id }, `${f.face_id.slice(0, 8)}…`), el("td", {}, f.user_id || "—"),
        el("td", { class: "num" }, fmtNumber(f.confidence)), el("td", {}, del)));
    }
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "note" }, "no faces")));
  } catch (exc) {
    body.append(el("tr", {}, el("td", { colspan: "5" }, errorBox(exc, "listing faces"))));
  }
  $("faces-more").hidden = !facesToken;
}

export function initCollections() {
  $("collections-refresh").addEventListener("click", loadCollections);
  $("collection-create-form").addEventListener("submit", createCollection);
  $("user-create-form").addEventListener("submit", createUser);
  $("user-associate-form").addEventListener("submit", associateByPrefix);
  $("faces-refresh").addEventListener("click", () => loadFaces(true));
  $("faces-more").addEventListener("click", () => loadFaces(false));
  dropzone($("enrol-drop"), [$("enrol-folder-input"), $("enrol-files-input")], enrol);
  dropzone($("search-drop"), [$("search-input")], search);
  dropzone($("users-search-drop"), [$("users-search-input")], searchUsers);
  return {
    paste(entry) {
      if (current) search([entry]);
    },
  };
}
