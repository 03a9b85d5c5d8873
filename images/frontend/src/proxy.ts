/**
 * Next.js Proxy (the file convention formerly called middleware): runs in the Node.js runtime before
 * every request, pages, /api and static files alike.
 *
 * It adds Strict-Transport-Security from HSTS_MAX_AGE. That cannot live with the other security
 * headers in next.config.ts: `headers()` there is evaluated by `next build` and frozen into the
 * build's routes manifest, and one image must serve every environment (0 on a plain-HTTP kind
 * cluster, a year behind a TLS Ingress). Here the variable is read per request, like BACKEND_URL.
 */
import { NextResponse, type NextRequest } from "next/server";

import { ConfigError, hstsMaxAge } from "@/lib/config";

export function proxy(request: NextRequest): NextResponse {
  let maxAge: number;
  try {
    maxAge = hstsMaxAge();
  } catch (exc) {
    // Unreachable after the start-up check (instrumentation-node.ts) unless the environment changed
    // under a running process: every request then fails with the variable named, none is served
    // without the header it was configured to carry.
    const message = exc instanceof ConfigError ? exc.message : String(exc);
    console.error(JSON.stringify({ level: "error", logger: "proxy", event: "misconfigured", reason: message, path: request.nextUrl.pathname }));
    return NextResponse.json(
      // The reason goes to the log only, as with BACKEND_URL (lib/proxy.ts): the browser gets plain words.
      { error: "frontend_misconfigured", message: "The web app is not configured correctly." },
      { status: 503, headers: { "cache-control": "no-store" } },
    );
  }
  const response = NextResponse.next();
  // No includeSubDomains/preload: other hosts under the same domain may still serve plain HTTP, and
  // both are hard to take back; an operator who wants them sets them at the Ingress.
  if (maxAge > 0) response.headers.set("strict-transport-security", `max-age=${maxAge}`);
  return response;
}
