// The console's only way to the server: the Connect protocol's unary JSON
// calls (`POST /custops.v1.<Service>/<Method>`, body and answer in
// protobuf's JSON mapping) and a few plain GETs on custops' HTTP listener.
// URLs are relative to the page, so the console works behind a path prefix.
import type { WhoAmI } from './types';

const TOKEN_KEY = 'custops.token';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives as long as the page */
  }
}

/** A failed call: the Connect error code ("not_found", ...) and message. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  if (json) h['Content-Type'] = 'application/json';
  const token = getToken();
  if (token) h['Authorization'] = `Bearer ${token}`;
  return h;
}

/** Maps an HTTP status to a Connect code when the body names none. */
function codeOfStatus(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_argument';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'permission_denied';
    case 404:
      return 'not_found';
    case 409:
      return 'aborted';
    case 412:
      return 'failed_precondition';
    case 429:
      return 'resource_exhausted';
    case 501:
      return 'unimplemented';
    case 503:
      return 'unavailable';
    case 504:
      return 'deadline_exceeded';
    default:
      return 'unknown';
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = codeOfStatus(response.status);
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const body = (await response.json()) as { code?: string; message?: string };
    if (body.code) code = body.code;
    if (body.message) message = body.message;
  } catch {
    /* not JSON: keep the status */
  }
  return new ApiError(code, message, response.status);
}

/** Listeners told when a call answers UNAUTHENTICATED (token expired). */
const unauthenticatedListeners = new Set<() => void>();
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

async function send(url: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(new URL(url, document.baseURI), init);
  } catch (e) {
    throw new ApiError('unavailable', `network: ${(e as Error).message}`, 0);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (error.code === 'unauthenticated') unauthenticatedListeners.forEach((l) => l());
    throw error;
  }
  return response;
}

/** One unary call: `service` without the package ("Review"), `method` ("GetReview"). */
export async function call<T>(
  service: string,
  method: string,
  request: object,
  signal?: AbortSignal,
): Promise<T> {
  const response = await send(`custops.v1.${service}/${method}`, {
    method: 'POST',
    headers: headers(true),
    body: JSON.stringify(request),
    signal,
  });
  return (await response.json()) as T;
}

/** GET /v1/whoami with the current token. */
export async function whoami(): Promise<WhoAmI> {
  const response = await send('v1/whoami', { headers: headers(false), cache: 'no-store' });
  return (await response.json()) as WhoAmI;
}

/**
 * GET /v1/console/dev-token: the server's development token, offered only on
 * loopback when configured; null when the server has none (404).
 */
export async function devToken(): Promise<string | null> {
  try {
    const response = await fetch(new URL('v1/console/dev-token', document.baseURI), {
      cache: 'no-store',
    });
    if (!response.ok) return null;
    const body = (await response.json()) as { token?: string };
    return body.token ?? null;
  } catch {
    return null;
  }
}

/**
 * A Server-Sent Events stream read with fetch (EventSource cannot send the
 * Authorization header). Calls `onEvent` with each event's id and parsed
 * data until `signal` aborts or the server ends the stream.
 */
export async function stream(
  path: string,
  onEvent: (id: string, data: unknown) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await send(path, {
    headers: { ...headers(false), Accept: 'text/event-stream' },
    signal,
    cache: 'no-store',
  });
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    // Events end with a blank line (LF LF; CR LF CR LF normalised first).
    buffer = buffer.replace(/\r\n/g, '\n');
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let id = '';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue; // comment / keep-alive
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'id') id = val;
        else if (field === 'data') data.push(val);
      }
      if (data.length === 0) continue;
      try {
        onEvent(id, JSON.parse(data.join('\n')));
      } catch {
        onEvent(id, data.join('\n'));
      }
    }
  }
}
