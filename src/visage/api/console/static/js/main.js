// The console's entry point: tabs, the API key, server status, paste, and errors that never leave a blank page.

import { ApiError, BASE, call, getKey, onUnauthorized, setKey } from "./api.js";
import { initAnalyze } from "./analyze.js";
import { initCollections, loadCollections } from "./collections.js";
import { clear, errorBox } from "./ui.js";
import { initVerify } from "./verify.js";

const $ = (id) => document.getElementById(id);
const TABS = ["analyze", "verify", "collections"];
let tabs = null;

function banner(node) {
  const b = $("banner");
  clear(b);
  if (node) b.append(node);
  b.hidden = !node;
}

// Errors the console itself hits are shown too: the page is never left blank or silently stuck.
window.addEventListener("error", (ev) => banner(errorBox(ev.error || new Error(ev.message), "console")));
window.addEventListener("unhandledrejection", (ev) => banner(errorBox(ev.reason instanceof Error ? ev.reason
  : new Error(String(ev.reason)), "console")));

function showTab(name) {
  const tab = TABS.includes(name) ? name : "analyze";
  for (const panel of document.querySelectorAll("[data-tab-panel]")) panel.hidden = panel.dataset.tabPanel !== tab;
  for (const link of document.querySelectorAll("[data-tab]")) link.classList.toggle("active", link.dataset.tab === tab);
  document.body.dataset.tab = tab;
  if (tab === "collections") loadCollections();
}

// Keys -----------------------------------------------------------------------------------------------------

let keyWaiters = [];

function askForKey(message = "") {
  $("key-dialog").hidden = false;
  const err = $("key-error");
  err.textContent = message;
  err.hidden = !message;
  $("key-input").focus();
  return new Promise((resolve) => keyWaiters.push(resolve));
}

async function checkSession() {
  try {
    const { data } = await call("GET", "/v1/session", { silent: true });
    return data;
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) return { keys_required: true, role: null, rejected: true };
    throw exc;
  }
}

function applyRole(session) {
  document.body.dataset.role = session.role || "none";
  const info = $("key-info");
  info.hidden = !session.keys_required;
  info.textContent = session.role === "admin" ? "admin key" : session.role === "read" ? "read-only key" : "";
  info.dataset.role = session.role || "";
  $("key-forget").hidden = !session.keys_required || !getKey();
}

let establishing = null;

/** Ask for a key until the server accepts one (once at a time, however many requests saw a 401). */
function establishSession() {
  if (!establishing) {
    establishing = (async () => {
      let session = await checkSession();
      while (session.keys_required && !session.role) {
        if (session.rejected) setKey(null);
        await askForKey(session.rejected ? "That key was not accepted." : "");
        session = await checkSession();
      }
      applyRole(session);
      return session;
    })().finally(() => { establishing = null; });
  }
  return establishing;
}

$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return;
  setKey(key);
  $("key-input").value = "";
  $("key-dialog").hidden = true;
  const waiters = keyWaiters;
  keyWaiters = [];
  waiters.forEach((resolve) => resolve());
});

$("key-forget").addEventListener("click", async () => {
  setKey(null);
  await establishSession();
});

onUnauthorized(() => {
  if (establishing) return;
  setKey(null);
  establishSession();
});

// Server status --------------------------------------------------------------------------------------------

async function serverInfo() {
  const info = $("server-info");
  for (;;) {
    let ready = null;
    try {
      const response = await fetch(`${BASE}/readyz`);
      ready = await response.json();
    } catch (exc) {
      info.textContent = "server unreachable";
      banner(errorBox(new ApiError(0, "network_error", "GET /readyz failed"), "server"));
      await new Promise((r) => setTimeout(r, 3000));
      continue;
    }
    if (ready.status === "ready") {
      banner(null);
      let embedder = "";
      try {
        const { data } = await call("GET", "/v1/verify/operating-point");
        embedder = ` · embedder ${data.model}`;
      } catch (exc) {
        embedder = "";
      }
      info.textContent = `pipeline ${ready.pipeline}${embedder}`;
      info.title = (ready.models || []).join(", ");
      info.dataset.ready = "true";
      return;
    }
    info.textContent = ready.status === "failed" ? "models failed to load" : "models loading…";
    banner(errorBox(new ApiError(503, "model_unavailable", ready.error || "models are still loading"), "server"));
    if (ready.status === "failed") return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// Paste --------------------------------------------------------------------------------------------------

document.addEventListener("paste", (ev) => {
  const items = [...(ev.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
  if (!items.length) return;
  ev.preventDefault();
  const entries = items.map((file, i) => ({ file, path: file.name && file.name !== "image.png" ? file.name : `pasted-${i + 1}.png` }));
  const tab = document.body.dataset.tab;
  if (tab === "verify") entries.forEach((e) => tabs.verify.paste(e));
  else if (tab === "collections") tabs.collections.paste(entries[0]);
  else tabs.analyze.add(entries);
});

async function boot() {
  tabs = { analyze: initAnalyze(), verify: initVerify(), collections: initCollections() };
  window.addEventListener("hashchange", () => showTab(window.location.hash.slice(1)));
  try {
    await establishSession();
  } catch (exc) {
    banner(errorBox(exc, "connecting"));
  }
  showTab(window.location.hash.slice(1));
  document.body.dataset.ready = "true";
  serverInfo();
}

boot();
