// The console REST API (/console/api): JSON in and out, the CSRF header on every unsafe request, and errors
// as ApiError carrying the field they name, so forms can show them next to that field.

import { text } from "./i18n.js";
import { serverText } from "./messages.js";

const BASE = "/console/api";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

let csrfToken = null;
let onUnauthorized = () => {};

export function setCsrfToken(token) {
  csrfToken = token ?? null;
}

/** Called when a request comes back 401 (the session ended); the app sends the user to the sign-in page. */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

export class ApiError extends Error {
  constructor(status, error = {}) {
    const english = error.message || `request failed (HTTP ${status})`;
    super(english);
    this.status = status;
    this.type = error.type ?? null;
    this.code = error.code ?? null;
    this.field = error.field ?? null;
    this.params = error.params ?? {};
    this.retryAfter = error.retryAfter ?? null;
    /** The message as a source for i18n.tr/translate: it follows the language toggle. */
    this.text = serverText(this.code, this.params, english);
    // `message` is read in the language of the moment it is shown (a toast, a form error); a view may replace it.
    Object.defineProperty(this, "message", {
      get: () => text(this.text),
      set: (value) => {
        this.text = value;
      },
      configurable: true,
    });
  }
}

function headers(method, hasBody) {
  const result = { Accept: "application/json" };
  if (hasBody) result["Content-Type"] = "application/json";
  if (UNSAFE.has(method) && csrfToken) result["X-CSRF-Token"] = csrfToken;
  return result;
}

async function send(method, path, body, extra = {}) {
  const hasBody = body !== undefined;
  try {
    return await fetch(BASE + path, {
      method,
      headers: { ...headers(method, hasBody), ...extra },
      body: hasBody ? JSON.stringify(body) : undefined,
      credentials: "same-origin",
      signal: extra.signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, {
      code: "unreachable",
      message: "the server could not be reached; check that modelyard is running",
    });
  }
}

async function failure(response, path) {
  let error = {};
  try {
    const body = await response.json();
    error = body.error ?? body;
  } catch {
    error = { message: `${response.status} ${response.statusText}` };
  }
  error.retryAfter = response.headers.get("Retry-After");
  if (response.status === 401 && !path.startsWith("/auth/")) onUnauthorized();
  return new ApiError(response.status, error);
}

export async function api(method, path, body) {
  const response = await send(method, path, body);
  if (!response.ok) throw await failure(response, path);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") ?? "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const put = (path, body = {}) => api("PUT", path, body);
export const patch = (path, body = {}) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

/** `?a=1&b=2` from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * POST and read a server-sent event stream, calling `onEvent` with each `data:` payload parsed as JSON.
 * EventSource cannot POST, so this reads the body with fetch and a stream reader, event by event.
 */
export async function postStream(path, body, onEvent, { signal } = {}) {
  const response = await send("POST", path, body, { Accept: "text/event-stream", signal });
  if (!response.ok) throw await failure(response, path);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let boundary;
    while ((boundary = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      dispatch(event, onEvent);
    }
  }
  if (buffer.trim()) dispatch(buffer, onEvent);
}

function dispatch(event, onEvent) {
  const data = event
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).replace(/^ /, ""))
    .join("\n");
  if (!data || data === "[DONE]") return;
  onEvent(JSON.parse(data));
}
