// Talking to the native API: the key from session storage, errors as ApiError, and the equivalent curl.

const KEY_STORAGE = "visage.apiKey";
// The API lives where the console does, less "/console/": this also works behind a gateway's path prefix.
export const BASE = window.location.pathname.replace(/\/console(\/.*)?$/, "");

export function getKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** An error answered by the API (or the network), with what a person needs to act on it. */
export class ApiError extends Error {
  constructor(status, code, message, requestId = null, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

const listeners = { unauthorized: [] };

/** Called with the ApiError whenever the server answers 401 (the key is missing or unknown). */
export function onUnauthorized(fn) {
  listeners.unauthorized.push(fn);
}

function headers(extra = {}) {
  const out = { ...extra };
  const key = getKey();
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}

/**
 * One API call. ``form`` (an object of strings and Files/Blobs) is sent as multipart, ``json`` as JSON;
 * ``silent`` skips the 401 listeners (for the call that checks a key).
 * Returns {data, ms, status, requestId}; throws ApiError for every non-2xx answer and for network failures.
 */
export async function call(method, path, { form = null, json = null, query = null, silent = false } = {}) {
  let url = BASE + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== "") params.set(k, v);
    const text = params.toString();
    if (text) url += `?${text}`;
  }
  const init = { method, headers: headers() };
  if (form) {
    const body = new FormData();
    for (const [k, v] of Object.entries(form)) {
      if (v === null || v === undefined || v === "") continue;
      if (v instanceof Blob) body.append(k, v, v.name || `${k}.png`);
      else body.append(k, String(v));
    }
    init.body = body;
  } else if (json) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const t0 = performance.now();
  let response;
  try {
    response = await fetch(url, init);
  } catch (exc) {
    throw new ApiError(0, "network_error",
      "The server did not answer (is visage serve still running, or was the upload refused?).");
  }
  const text = await response.text();
  const ms = performance.now() - t0;
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (exc) {
    data = null;
  }
  const requestId = response.headers.get("x-request-id");
  if (!response.ok) {
    const err = (data && data.error) || {};
    const message = err.message || (data && data.detail) || text.slice(0, 300) || response.statusText;
    const error = new ApiError(response.status, err.code || `http_${response.status}`,
      typeof message === "string" ? message : JSON.stringify(message),
      err.request_id || requestId, response.headers.get("retry-after"));
    if (response.status === 401 && !silent) listeners.unauthorized.forEach((fn) => fn(error));
    throw error;
  }
  return { data, ms, status: response.status, requestId };
}

/** Like call(), but waits and retries (up to ``tries`` times) when the server answers 429 throttled. */
export async function callPatiently(method, path, options = {}, tries = 4) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call(method, path, options);
    } catch (exc) {
      if (!(exc instanceof ApiError) || exc.status !== 429 || attempt >= tries) throw exc;
      const wait = Math.min(10, Number(exc.retryAfter) || 1) * 1000 * attempt;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

function shellQuote(text) {
  const s = String(text);
  return /^[A-Za-z0-9_.:/=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** The curl command that makes the same request (the key as $VISAGE_API_KEY, never the key itself). */
export function curlFor(method, path, { form = null, json = null, query = null } = {}) {
  const base = `${window.location.protocol}//${window.location.host}${BASE}`;
  let url = base + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== "") params.set(k, v);
    if (params.toString()) url += `?${params}`;
  }
  const parts = ["curl", "-sS"];
  if (method !== "GET" && !(method === "POST" && (form || json))) parts.push("-X", method);
  parts.push(shellQuote(url));
  if (getKey()) parts.push("-H", "\"Authorization: Bearer $VISAGE_API_KEY\"");
  if (form) {
    for (const [k, v] of Object.entries(form)) {
      if (v === null || v === undefined || v === "") continue;
      if (v instanceof Blob) parts.push("-F", shellQuote(`${k}=@${v.name || `${k}.png`}`));
      else parts.push("-F", shellQuote(`${k}=${v}`));
    }
  } else if (json) {
    parts.push("-H", "'Content-Type: application/json'", "-d", shellQuote(JSON.stringify(json)));
  }
  return parts.join(" ");
}
