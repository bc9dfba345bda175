// The HTTP API client: bearer token, JSON in and out, errors as ApiError.
// Never logs anything: request and response bodies can hold note text (PHI).

const TOKEN_KEY = "chartcode.token";
const USER_KEY = "chartcode.user";

/** An API failure: status, a message for the user, and FastAPI's field errors when there are any. */
export class ApiError extends Error {
  constructor(status, message, fields = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.fields = fields; // [{field, msg}]
  }
}

/** The session (token + user) lives in sessionStorage: one tab, gone when the tab closes. */
export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get user() {
    try {
      return JSON.parse(sessionStorage.getItem(USER_KEY) || "null");
    } catch {
      return null;
    }
  },
  set(token, user) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};

/** Turn an error response body into a readable message (+ field errors for 422). */
export function describeError(status, body) {
  const detail = body && typeof body === "object" ? body.detail : null;
  if (Array.isArray(detail)) {
    const fields = detail.map((d) => ({
      field: Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body" && p !== "query").join(".") : "",
      msg: String(d.msg || "invalid").replace(/^Value error, /, "") + (d.fix ? ` ${d.fix}` : ""),
    }));
    return new ApiError(status, fields.map((f) => (f.field ? `${f.field}: ${f.msg}` : f.msg)).join("; "), fields);
  }
  if (typeof detail === "string" && detail) {
    // chartcode's problem objects carry the fix beside the message: {detail, code, fix}
    const fix = typeof body.fix === "string" && body.fix && !detail.includes(body.fix) ? ` ${body.fix}` : "";
    return new ApiError(status, detail + fix);
  }
  if (detail && typeof detail === "object" && typeof detail.message === "string") {
    return new ApiError(status, detail.fix ? `${detail.message} ${detail.fix}` : detail.message);
  }
  const generic = {
    401: "Your session has ended; please sign in again.",
    403: "Your role does not allow this.",
    404: "Not found.",
    409: "This encounter was changed by someone else; reload it.",
  };
  return new ApiError(status, generic[status] || `The server answered ${status}.`);
}

let onUnauthorized = () => {};
/** Register what happens on a 401 (the app goes back to the login page). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * Call the API.
 * @param {string} method
 * @param {string} path e.g. "/api/encounters"
 * @param {{body?:any, query?:Record<string, any>, token?:string}} [opts]
 */
export async function api(method, path, { body, query, token } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const headers = { Accept: "application/json" };
  const bearer = token || session.token; // an explicit token: e.g. signing out a session already cleared here
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check your connection and try again.");
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = describeError(res.status, data);
    if (res.status === 401 && path !== "/api/auth/login") onUnauthorized();
    throw err;
  }
  return data;
}

/** Percent-encode a path segment (codes such as "E11.9" are safe, but be strict anyway). */
export function seg(value) {
  return encodeURIComponent(String(value));
}

/**
 * Upload a file as the "file" part of a multipart form (e.g. an 835 to /api/remits); JSON answer.
 * @param {string} path
 * @param {File} file
 */
export async function upload(path, file) {
  const headers = { Accept: "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const form = new FormData();
  form.append("file", file, file.name || "remittance.835");
  let res;
  try {
    res = await fetch(path, { method: "POST", headers, body: form });
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check your connection and try again.");
  }
  let data = null;
  try {
    data = JSON.parse((await res.text()) || "null");
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = describeError(res.status, data);
    if (res.status === 401) onUnauthorized();
    throw err;
  }
  return data;
}
