// Calls to the medbook API (/v1 on this origin), and who is logged in.
//
// The token is kept in this tab's sessionStorage (so a reload keeps the person logged in, and
// closing the tab logs them out), never in localStorage, which every tab and every later visit
// would share. It is sent only as a bearer token to this origin.

const SESSION = "medbook.session";

let session = null;
try {
  session = JSON.parse(sessionStorage.getItem(SESSION) || "null");
} catch {
  session = null;
}
const listeners = new Set();

export function currentSession() {
  return session;
}

export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function setSession(next) {
  session = next;
  if (next) sessionStorage.setItem(SESSION, JSON.stringify(next));
  else sessionStorage.removeItem(SESSION);
  for (const listener of listeners) listener(session);
}

// An answer that was not a success: the API's problem details (RFC 9457), or what stood in for
// them when the server could not be reached (status 0).
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || null;
    this.title = problem.title || "";
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }

  // The message for one field of a form, if the API named that field.
  forField(field) {
    const found = this.errors.find((error) => error.field === field);
    return found ? found.message : null;
  }
}

// A file (an avatar, an attachment, a chat image) sent as the form part named "file", with its
// name: the browser writes the multipart body and its Content-Type (with the boundary).
export function upload(method, path, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return api(method, path, form, null);
}

export async function api(method, path, body, contentType = "application/json") {
  const headers = { Accept: "application/json" };
  if (body !== undefined && contentType) headers["Content-Type"] = contentType;
  if (session) headers.Authorization = `Bearer ${session.token}`;
  let response;
  try {
    response = await fetch(`/v1${path}`, {
      method,
      headers,
      body: body === undefined || contentType !== "application/json" ? body : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { code: "offline" });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 401 && session && path !== "/sessions") setSession(null);
    throw new ApiError(response.status, data && typeof data === "object" ? data : {});
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const remove = (path) => api("DELETE", path);

// A private file of the API (a QR code, an attachment) as a blob: URL the page can show. Files
// need the bearer token, which an <img src> cannot send.
export async function fileUrl(path) {
  const response = await fetch(path.startsWith("/v1/") || path.startsWith("/files/") ? path : `/v1${path}`, {
    headers: session ? { Authorization: `Bearer ${session.token}` } : {},
    credentials: "omit",
    cache: "no-store",
  }).catch(() => {
    throw new ApiError(0, { code: "offline" });
  });
  if (!response.ok) throw new ApiError(response.status, {});
  return URL.createObjectURL(await response.blob());
}
