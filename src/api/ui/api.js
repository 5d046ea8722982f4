// Calls to the kernel's HTTP API: the bearer token (kept in sessionStorage only), URLs
// relative to the page (`../v1/…`, so any mount prefix works), problem+json errors.

const KEY = "agent-os.token";

/** The token in use, or "" (none entered in this tab). */
export function token() {
  return sessionStorage.getItem(KEY) || "";
}

/** Keeps `t` for this tab (sessionStorage: gone when the tab closes). */
export function setToken(t) {
  if (t) {
    sessionStorage.setItem(KEY, t);
  } else {
    sessionStorage.removeItem(KEY);
  }
}

/** The absolute URL of an API path such as `agents/ID` (`../v1/agents/ID` from the page). */
export function url(path) {
  return new URL("../v1/" + path, document.baseURI).toString();
}

/** An API error: the HTTP status and the problem document's title and detail. */
export class ApiError extends Error {
  constructor(status, title, detail, field) {
    super(status + " " + title + (detail ? ": " + detail : ""));
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.field = field;
  }
}

const listeners = [];

/** Calls `f(error)` on every 401 or 403 (shown plainly by the page). */
export function onAuthError(f) {
  listeners.push(f);
}

/** The request headers: JSON, and the bearer token if one was entered. */
export function headers(extra) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  const t = token();
  if (t) {
    h.Authorization = "Bearer " + t;
  }
  return h;
}

/** Turns a non-2xx response into an ApiError (reading its problem+json body if any). */
export async function failure(res) {
  let title = res.statusText || "error";
  let detail = "";
  let field;
  try {
    const p = await res.json();
    title = p.title || title;
    detail = p.detail || "";
    field = p.field;
  } catch (_) {
    // not a problem document: keep the status text
  }
  const err = new ApiError(res.status, title, detail, field);
  if (res.status === 401 || res.status === 403) {
    listeners.forEach((f) => f(err));
  }
  return err;
}

/** `method path` with an optional JSON body; resolves to the JSON reply, throws ApiError. */
export async function call(method, path, body) {
  const init = { method, headers: headers(), cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url(path), init);
  } catch (e) {
    throw new ApiError(0, "network error", String(e && e.message ? e.message : e));
  }
  if (!res.ok) {
    throw await failure(res);
  }
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.text();
}

/** `GET path`. */
export function get(path) {
  return call("GET", path);
}

/** `POST path` with a JSON body (default `{}`). */
export function post(path, body) {
  return call("POST", path, body === undefined ? {} : body);
}

/** Shortens a pid (a UUID) for tables: its first 8 characters. */
export function shortPid(pid) {
  return pid ? String(pid).slice(0, 8) : "";
}

/** Builds an element: `el("td", {class: "num"}, "12")`; children are nodes or text. */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null && v !== false) {
      e.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children) {
    if (c !== undefined && c !== null) {
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }
  return e;
}

/** Replaces a `<dl>`'s content with `[label, value]` pairs. */
export function fillPairs(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

/** A number for display (integers grouped, floats to `digits`). */
export function num(v, digits) {
  if (v === null || v === undefined) {
    return "—";
  }
  if (typeof v !== "number") {
    return String(v);
  }
  return digits === undefined ? v.toLocaleString("en-US") : v.toFixed(digits);
}
