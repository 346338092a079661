// The daemon's API, addressed relative to this module so that the pages work under any path prefix.
export const apiBase = new URL('../../api/v1/', import.meta.url);

/** An HTTP failure with the status and the problem document, if any. */
export class HTTPError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** GET or send JSON; rejects on network errors, non-2xx answers and after `timeout` ms. */
export async function api(path, { method = 'GET', body, timeout = 10000 } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  try {
    const response = await fetch(new URL(path, apiBase), {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      signal: controller.signal,
      cache: 'no-store',
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new HTTPError(response.status, data);
    return data;
  } finally {
    clearTimeout(timer);
  }
}
