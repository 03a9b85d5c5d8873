/**
 * The proxied API's plain request and answer (no framework types), and the headers every /api answer
 * carries, in one place. The lean API server (src/server/lean.ts) and the Next route adapters
 * (lib/next-route.ts, for `next dev`) both turn these into HTTP.
 *
 * Cache-Control `no-store`: answers are per user and must never be cached. `no-transform`: nothing
 * may re-encode them (Next's gzip, which honours it, skipped them when Next served the API).
 */
import { ConfigError, hstsMaxAge } from "./config";
import { type SetCookie, parseCookies } from "./cookies";

export const API_CACHE_CONTROL = "no-store, no-transform";

/** One API request: what the handlers read, whoever parsed the HTTP. */
export interface ApiRequest {
  /** Upper case. */
  method: string;
  /** The URL path, e.g. /api/tasks/7. */
  path: string;
  query: URLSearchParams;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string | undefined>;
  /** The scheme the request arrived with at this server ("https:" or "http:"); X-Forwarded-Proto wins over it. */
  protocol: string;
  /** The connection's peer address (the lean server knows it; under `next dev` it is unknown). */
  peerAddress?: string;
  /** The body as text, at most `limit` bytes; null when it is larger (the rest is not read). */
  readBody(limit: number): Promise<string | null>;
  /** Parsed on first use. */
  cookies?: Map<string, string>;
}

/** One API answer: body null for none; cookies become Set-Cookie headers. */
export interface ApiAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | null;
  cookies: SetCookie[];
}

export function cookiesOf(request: ApiRequest): Map<string, string> {
  request.cookies ??= parseCookies(request.headers.cookie);
  return request.cookies;
}

/** A JSON answer with the API's headers. */
export function apiJson(body: unknown, init: { status?: number } = {}): ApiAnswer {
  return apiJsonText(JSON.stringify(body), init.status ?? 200);
}

/** JSON text relayed as it is (already validated by the caller): no parse and re-stringify. */
export function apiJsonText(text: string, status: number): ApiAnswer {
  return {
    status,
    headers: { "content-type": "application/json", "cache-control": API_CACHE_CONTROL },
    body: text,
    cookies: [],
  };
}

/** A small JSON error body {error, message} with the API's headers. */
export function jsonError(status: number, error: string, message: string): ApiAnswer {
  return apiJson({ error, message }, { status });
}

/** An answer without a body. */
export function emptyAnswer(status: number, headers: Record<string, string> = {}): ApiAnswer {
  return { status, headers, body: null, cookies: [] };
}

/**
 * Strict-Transport-Security from HSTS_MAX_AGE (read per call: one image serves every environment):
 * the header's value, null for none (0, the default), or, when the variable is malformed, the 503 to
 * send instead, the reason logged in one line. Malformed is unreachable after the start-up check
 * (instrumentation-node.ts) unless the environment changed under a running process: every answer then
 * fails with the variable named, none is sent without the header it was configured to carry.
 */
export function hstsHeader(path: string): string | null | ApiAnswer {
  let maxAge: number;
  try {
    maxAge = hstsMaxAge();
  } catch (exc) {
    const message = exc instanceof ConfigError ? exc.message : String(exc);
    console.error(JSON.stringify({ level: "error", logger: "proxy", event: "misconfigured", reason: message, path }));
    // The reason goes to the log only, as with BACKEND_URL (lib/proxy.ts): the browser gets plain words.
    return jsonError(503, "frontend_misconfigured", "The web app is not configured correctly.");
  }
  // No includeSubDomains/preload: other hosts under the same domain may still serve plain HTTP, and
  // both are hard to take back; an operator who wants them sets them at the Ingress.
  return maxAge > 0 ? `max-age=${maxAge}` : null;
}

export type ApiHandler = (request: ApiRequest, params: Record<string, string>) => ApiAnswer | Promise<ApiAnswer>;

/**
 * A handler of the proxied API with what the Next Proxy (src/proxy.ts) adds to everything else:
 * Strict-Transport-Security. HSTS is decided before the handler runs, so a misconfigured server
 * forwards nothing to the backend.
 */
export function apiRoute(handler: ApiHandler): ApiHandler {
  return (request, params) => {
    const hsts = hstsHeader(request.path);
    if (typeof hsts === "object" && hsts !== null) return hsts;
    const withHeader = (answer: ApiAnswer): ApiAnswer => {
      if (hsts !== null) answer.headers["strict-transport-security"] = hsts;
      return answer;
    };
    // A synchronous handler stays synchronous (no extra turn of the event loop).
    const answer = handler(request, params);
    return answer instanceof Promise ? answer.then(withHeader) : withHeader(answer);
  };
}
