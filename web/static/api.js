// Talking to the HTTP API: JSON requests, uploads with progress, and the
// access token (taken once from ?token=, kept in sessionStorage).

const TOKEN_KEY = "offload.token";

/** Keep a ?token= from the page's own URL, then drop it from the address bar. */
function adoptToken() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token === null) return;
  // An empty ?token= forgets the one kept for this tab.
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  url.searchParams.delete("token");
  // Not a navigation: only the visible address changes.
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}

adoptToken();

/** The access token, or null when the server needs none. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Headers for a JSON request, with the Bearer token when there is one. */
function headers(extra = {}) {
  const all = { Accept: "application/json", ...extra };
  const current = token();
  if (current) all.Authorization = `Bearer ${current}`;
  return all;
}

/** A URL for things that cannot send headers (EventSource, <img>, <video>). */
export function withToken(path, query = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query)) {
    url.searchParams.set(name, value);
  }
  const current = token();
  if (current) url.searchParams.set("access_token", current);
  return url.pathname + url.search;
}

/** An error from the API, with the HTTP status and the JSON body. */
export class ApiError extends Error {
  constructor(status, body) {
    super(explain(status, body));
    this.status = status;
    this.body = body;
  }
}

function explain(status, body) {
  if (status === 401) {
    return "This server needs an access token: open the page as /?token=<token>.";
  }
  if (body && typeof body.error === "string") return body.error;
  if (status === 0) return "The server could not be reached.";
  return `The server answered ${status}.`;
}

/** Send a request and return its JSON body; throw ApiError when it failed. */
export async function request(method, path, { body, json } = {}) {
  const init = { method, headers: headers() };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, null);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** GET a path with a query string built from the non-empty values. */
export function get(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") {
      params.set(name, value);
    }
  }
  const search = params.toString();
  return request("GET", search ? `${path}?${search}` : path);
}

/**
 * Upload one file as its own request, reporting progress as a fraction.
 * Resolves with the created tasks; rejects with ApiError.
 */
export function uploadFile(file, fields, onProgress) {
  const form = new FormData();
  // Fields first: the server checks the operation before storing any byte.
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("files", file, file.name);

  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/tasks");
    for (const [name, value] of Object.entries(headers())) {
      xhr.setRequestHeader(name, value);
    }
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(xhr.response.tasks);
      } else {
        reject(new ApiError(xhr.status, xhr.response));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, null)));
    xhr.addEventListener("abort", () => reject(new ApiError(0, null)));
    xhr.send(form);
  });
}
