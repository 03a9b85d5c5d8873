/**
 * The headers every /api answer carries, in one place (route handlers, the proxy, the guard).
 *
 * Cache-Control `no-store`: answers are per user and must never be cached. `no-transform`: nothing
 * may re-encode them, and Next.js's built-in gzip (the `compression` middleware, which honours
 * no-transform) skips them. These answers are small JSON produced per request; gzipping each one
 * cost more CPU than anything else the proxy did (bench/bench_frontend.py: zlib was the top frame
 * of the profile), while pages and static assets, which are large and cacheable, stay compressed.
 */
import { NextResponse, type NextRequest } from "next/server";

import { ConfigError, hstsMaxAge } from "./config";

export const API_CACHE_CONTROL = "no-store, no-transform";

/** A small JSON error body {error, message} with the API's headers. */
export function jsonError(status: number, error: string, message: string): NextResponse {
  return NextResponse.json({ error, message }, { status, headers: { "cache-control": API_CACHE_CONTROL } });
}

/** A JSON answer with the API's headers. */
export function apiJson(body: unknown, init: { status?: number } = {}): NextResponse {
  return NextResponse.json(body, { status: init.status ?? 200, headers: { "cache-control": API_CACHE_CONTROL } });
}

/**
 * JSON text relayed as it is (already validated by the caller): no parse and re-stringify.
 */
export function apiJsonText(text: string, status: number): NextResponse {
  return new NextResponse(text, {
    status,
    headers: { "content-type": "application/json", "cache-control": API_CACHE_CONTROL },
  });
}

/**
 * Strict-Transport-Security from HSTS_MAX_AGE (read per call: one image serves every environment):
 * the header's value, null for none (0, the default), or, when the variable is malformed, the 503 to
 * send instead, the reason logged in one line. Malformed is unreachable after the start-up check
 * (instrumentation-node.ts) unless the environment changed under a running process: every answer then
 * fails with the variable named, none is sent without the header it was configured to carry.
 */
export function hstsHeader(path: string): string | null | NextResponse {
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

/**
 * A route handler of the proxied API, with what the Proxy (src/proxy.ts) would otherwise add: the
 * Proxy skips these routes (its matcher), because running it costs each request a second pass through
 * Next's request pipeline, and these are the requests the app serves most. HSTS is decided before the
 * handler runs, so a misconfigured server forwards nothing to the backend.
 */
export function apiRoute<A extends unknown[], R extends Response>(
  handler: (request: NextRequest, ...rest: A) => Promise<R>,
): (request: NextRequest, ...rest: A) => Promise<R | NextResponse>;
export function apiRoute<A extends unknown[], R extends Response>(
  handler: (request: NextRequest, ...rest: A) => R,
): (request: NextRequest, ...rest: A) => R | NextResponse;
export function apiRoute<A extends unknown[], R extends Response>(
  handler: (request: NextRequest, ...rest: A) => R | Promise<R>,
): (request: NextRequest, ...rest: A) => R | NextResponse | Promise<R | NextResponse> {
  return (request, ...rest) => {
    const hsts = hstsHeader(request.nextUrl.pathname);
    if (hsts instanceof NextResponse) return hsts;
    const withHeader = (response: R): R => {
      if (hsts !== null) response.headers.set("strict-transport-security", hsts);
      return response;
    };
    // A synchronous handler stays synchronous (no extra turn of the event loop, same type for callers).
    const answer = handler(request, ...rest);
    return answer instanceof Promise ? answer.then(withHeader) : withHeader(answer);
  };
}
