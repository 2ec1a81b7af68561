// JSON calls to the backcare API with the session cookie and Django's CSRF header.

export class ApiError extends Error {
  constructor(status, body) {
    super(errorText(body) || `Request failed (${status})`);
    this.status = status;
    this.body = body;
  }
}

// Thrown when the request never reached the server (offline, server down).
export class NetworkError extends Error {}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function ensureCsrf() {
  if (!csrfToken()) await fetch("/csrf/", { credentials: "same-origin" });
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const unsafe = method !== "GET" && method !== "HEAD";
  if (unsafe) await ensureCsrf();
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (unsafe) init.headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new NetworkError(error.message);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 200) };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Flattens DRF's {"field": ["reason"]} errors into one readable line.
export function errorText(body) {
  if (!body) return "";
  if (typeof body === "string") return body;
  if (Array.isArray(body)) return body.map(errorText).join(" ");
  if (typeof body === "object") {
    if (body.detail) return String(body.detail);
    return Object.entries(body)
      .filter(([key]) => key !== "reason")
      .map(([key, value]) => {
        const text = errorText(value);
        return key === "non_field_errors" ? text : `${key.replaceAll("_", " ")}: ${text}`;
      })
      .join(" ");
  }
  return String(body);
}

// All pages of a cursor-paginated list (bounded, the lists here are short).
export async function apiAll(path, maxPages = 5) {
  const out = [];
  let next = path;
  for (let i = 0; next && i < maxPages; i++) {
    const page = await api(next);
    out.push(...page.results);
    next = page.next ? new URL(page.next).pathname + new URL(page.next).search : null;
  }
  return out;
}
