// The host's HTTP API with the admin token. The token lives in sessionStorage: closing the tab
// logs out, and it is never written anywhere else.

const KEY = "mica-admin-token";

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.body = body;
  }
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

/** Call the API; resolves to the JSON body, rejects with ApiError carrying the server's detail. */
export async function api(method, path, body, contentType = "application/json") {
  const headers = { Authorization: `Bearer ${token() || ""}` };
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = contentType;
    payload = contentType === "application/json" ? JSON.stringify(body) : body;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload });
  } catch (e) {
    throw new ApiError(0, `the host did not answer (${e.message})`, null);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const detail = (json && json.detail) || text || response.statusText;
    throw new ApiError(response.status, detail, json);
  }
  return json;
}
