/**
 * The same-origin proxy: the API handlers (lib/api-routes.ts) forward to the backend at
 * BACKEND_URL (read at request time). Errors become small JSON bodies in plain
 * words, never a stack trace:
 *   - backend unreachable or too slow  -> 503 {error: "backend_unavailable", message}
 *   - backend answered 5xx             -> 502 {error: "backend_error", message}
 *   - frontend misconfigured           -> 503 {error: "frontend_misconfigured", message}
 *   - no session                       -> 401 {error: "not_authenticated", message}
 *   - backend answer too large         -> 502 {error: "backend_answer_too_large", message}
 * Backend 2xx and 4xx answers are relayed as they are (status, JSON body and Retry-After).
 */
import { AnswerTooLargeError, type BackendAnswer, BackendTimeoutError, sendToBackend } from "./backend-http";
import { ConfigError, backendUrl, proxyToken, sessionCookieSecure, trustedProxyHops } from "./config";
import { guardRequest } from "./guard";
import { API_CACHE_CONTROL, type ApiAnswer, type ApiRequest, apiJsonText, cookiesOf, emptyAnswer, jsonError } from "./http";
import { SESSION_COOKIE, cookieOptions, decodeSession, isHttps, type Session } from "./session";

export const DEFAULT_TIMEOUT_MS = 15_000;
export const CHAT_TIMEOUT_MS = 90_000;

export const MESSAGES = {
  unavailable: "The task service cannot be reached right now. Please try again in a moment.",
  backendError: "The task service ran into a problem. Please try again in a moment.",
  misconfigured: "The web app is not configured to reach the task service.",
  tooLarge: "The task service's answer is too large to show. Please narrow what you asked for.",
  notAuthenticated: "You are not signed in.",
} as const;

export { jsonError };

export function log(event: string, fields: Record<string, unknown>): void {
  // LOG_LEVEL=error (or critical) silences these warnings; anything else keeps them.
  const level = (process.env.LOG_LEVEL ?? "").toLowerCase();
  if (level === "error" || level === "critical") return;
  console.error(JSON.stringify({ level: "warning", logger: "proxy", event, ...fields }));
}

export interface BackendCall {
  method: string;
  path: string;
  search?: string;
  body?: string;
  token?: string;
  timeoutMs?: number;
  /** The caller's address (clientAddress): the backend keys its limits on it when it trusts us. */
  client?: string;
}

/**
 * The address of whoever sent this request: the connection's peer, or with TRUSTED_PROXY_HOPS=n the
 * address the outermost of the n trusted proxies saw (the n-th entry from the end of X-Forwarded-For;
 * entries further left are whatever the client claimed). Undefined when unknown.
 */
export function clientAddress(request: ApiRequest, hops: number = trustedProxyHops()): string | undefined {
  if (hops > 0) {
    const chain = (request.headers["x-forwarded-for"] ?? "").split(",").map((entry) => entry.trim()).filter(Boolean);
    if (chain.length >= hops) return chain[chain.length - hops];
  }
  return request.peerAddress;
}

/**
 * X-Todo-Client with the caller's address, and X-Todo-Proxy-Token proving it is ours (PROXY_TOKEN):
 * the backend believes the first only with the second (issue 27). Nothing when either is unknown.
 */
function callerHeaders(client: string | undefined): Record<string, string> {
  let token: string | null;
  try {
    token = proxyToken();
  } catch {
    token = null; // unreachable after the start-up check; the backend then keys on this pod
  }
  if (!token || !client) return {};
  return { "x-todo-client": client, "x-todo-proxy-token": token };
}

/** Call the backend; returns its answer, or a ready-made error answer when it cannot be reached. */
export async function callBackend(call: BackendCall): Promise<BackendAnswer | ApiAnswer> {
  let base: string;
  try {
    base = backendUrl();
  } catch (exc) {
    log("misconfigured", { reason: exc instanceof ConfigError ? exc.message : String(exc) });
    return jsonError(503, "frontend_misconfigured", MESSAGES.misconfigured);
  }
  const headers: Record<string, string> = { accept: "application/json", ...callerHeaders(call.client) };
  if (call.body !== undefined) headers["content-type"] = "application/json";
  if (call.token) headers.authorization = `Bearer ${call.token}`;
  const send = () =>
    sendToBackend({
      method: call.method,
      url: `${base}${call.path}${call.search ?? ""}`,
      headers,
      body: call.body,
      timeoutMs: call.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
  try {
    try {
      return await send();
    } catch (exc) {
      // A pooled keep-alive connection to a backend pod that is shutting down (rolling
      // update) fails at once; a safe request is worth one more try on a new connection,
      // which the Service sends to a pod still serving. Timeouts are not retried.
      if (!isRetryable(call.method, exc)) throw exc;
      log("backend_retry", { method: call.method, path: call.path, reason: describe(exc) });
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      return await send();
    }
  } catch (exc) {
    if (exc instanceof AnswerTooLargeError) {
      log("backend_answer_too_large", { method: call.method, path: call.path });
      return jsonError(502, "backend_answer_too_large", MESSAGES.tooLarge);
    }
    log("backend_unreachable", { method: call.method, path: call.path, reason: describe(exc) });
    return jsonError(503, "backend_unavailable", MESSAGES.unavailable);
  }
}

export const RETRY_DELAY_MS = 100;
/** Connection-level failures after which nothing reached the backend's handler. */
const RETRYABLE_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE"]);

/** Only idempotent methods, and only when the connection failed (never on a timeout). */
export function isRetryable(method: string, exc: unknown): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  if (exc instanceof BackendTimeoutError || !(exc instanceof Error)) return false;
  const code = (exc as Error & { code?: unknown }).code;
  return typeof code === "string" && RETRYABLE_CODES.has(code);
}

function describe(exc: unknown): string {
  return exc instanceof Error ? `${exc.name}: ${exc.message}` : String(exc);
}

/** Turn a backend answer into ours: 5xx -> 502 JSON, anything else relayed with its JSON body. */
export function relay(answer: BackendAnswer | ApiAnswer): ApiAnswer {
  if ("cookies" in answer) return answer;
  if (answer.status >= 500) {
    log("backend_error", { status: answer.status });
    return jsonError(502, "backend_error", MESSAGES.backendError);
  }
  if (answer.status === 204 || answer.status === 304) {
    return emptyAnswer(answer.status, { "cache-control": API_CACHE_CONTROL });
  }
  if (!answer.text) return apiJsonText("null", answer.status);
  // Parsed only to refuse what is not JSON; the text itself is relayed (no re-serialising).
  try {
    JSON.parse(answer.text);
  } catch {
    log("backend_non_json", { status: answer.status });
    return jsonError(502, "backend_error", MESSAGES.backendError);
  }
  const out = apiJsonText(answer.text, answer.status);
  // A 429 says when to try again; the browser (and any client) gets the same figure.
  if (answer.retryAfter !== undefined) out.headers["retry-after"] = answer.retryAfter;
  return out;
}

export function sessionOf(request: ApiRequest): Session | null {
  return decodeSession(cookiesOf(request).get(SESSION_COOKIE));
}

export function requestIsHttps(request: ApiRequest): boolean {
  return isHttps(request.protocol, request.headers["x-forwarded-proto"] ?? null);
}

/**
 * Whether the session cookie gets `Secure`, by SESSION_COOKIE_SECURE (read now): "true" / "false"
 * decide alone, "auto" follows the request's scheme (X-Forwarded-Proto first). Throws ConfigError on a
 * malformed value.
 */
export function sessionCookieIsSecure(request: ApiRequest): boolean {
  const mode = sessionCookieSecure();
  return mode === "auto" ? requestIsHttps(request) : mode === "true";
}

export function clearSession(response: ApiAnswer, request: ApiRequest): ApiAnswer {
  let secure: boolean;
  try {
    secure = sessionCookieIsSecure(request);
  } catch (exc) {
    // Unreachable after the start-up check (instrumentation-node.ts). Forgetting a cookie must still
    // work, so this one falls back to "auto" rather than leaving the user signed in.
    log("misconfigured", { reason: exc instanceof ConfigError ? exc.message : String(exc) });
    secure = requestIsHttps(request);
  }
  response.cookies.push({ name: SESSION_COOKIE, value: "", options: { ...cookieOptions(secure), maxAge: 0 } });
  return response;
}

/**
 * Forward an authenticated call: the user id and token come from the session cookie,
 * so the browser never names another user's id. A backend 401 (expired token) clears the cookie.
 * Mutating calls pass the shared guard first (CSRF, JSON only, size: lib/guard.ts).
 */
export async function forwardAuthed(
  request: ApiRequest,
  method: string,
  subpath: string,
  options: { body?: boolean; search?: string; timeoutMs?: number } = {},
): Promise<ApiAnswer> {
  const guarded = await guardRequest(request, { body: options.body ?? false });
  if (typeof guarded !== "string") return guarded;
  const session = sessionOf(request);
  if (!session) {
    // A cookie that does not decode to a session (tampered, or a user id that is not the backend's
    // format) is cleared rather than sent again on every request.
    const refused = jsonError(401, "not_authenticated", MESSAGES.notAuthenticated);
    return cookiesOf(request).has(SESSION_COOKIE) ? clearSession(refused, request) : refused;
  }
  const body = options.body ? guarded : undefined;
  const response = await callBackend({
    method,
    path: `/api/${encodeURIComponent(session.userId)}${subpath}`,
    search: options.search,
    body: body === "" ? undefined : body,
    token: session.token,
    timeoutMs: options.timeoutMs,
    client: clientAddress(request),
  });
  const out = relay(response);
  if (out.status === 401) return clearSession(out, request);
  return out;
}

/** A path segment that must be a positive integer id; null when it is not. */
export function taskIdSegment(raw: string): string | null {
  return /^[1-9][0-9]{0,9}$/.test(raw) ? raw : null;
}
