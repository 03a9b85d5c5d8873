/**
 * Next.js Proxy (the file convention formerly called middleware): runs in the Node.js runtime before
 * pages, static files and the few /api routes that are not the proxied API (config.matcher below).
 *
 * It adds Strict-Transport-Security from HSTS_MAX_AGE. That cannot live with the other security
 * headers in next.config.ts: `headers()` there is evaluated by `next build` and frozen into the
 * build's routes manifest, and one image must serve every environment (0 on a plain-HTTP kind
 * cluster, a year behind a TLS Ingress). Here the variable is read per request, like BACKEND_URL.
 *
 * And a Content-Security-Policy with a fresh nonce per request (issue 27): only scripts carrying it
 * run ('strict-dynamic' lets them load Next's chunks), so an injected inline script does not. Next
 * reads the nonce from the request's Content-Security-Policy header and puts it on every script it
 * renders (the pages are rendered per request: they read the session cookie). The static policy of
 * lib/security-headers.ts still comes along; a browser enforces both, so this one only narrows it.
 */
import { NextResponse, type NextRequest } from "next/server";

import { hstsHeader } from "@/lib/http";
import { toNextResponse } from "@/lib/next-route";
import { pagePolicy } from "@/lib/security-headers";

export function proxy(request: NextRequest): NextResponse {
  const hsts = hstsHeader(request.nextUrl.pathname);
  if (typeof hsts === "object" && hsts !== null) return toNextResponse(hsts);
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  const policy = pagePolicy(nonce);
  const headers = new Headers(request.headers);
  headers.set("content-security-policy", policy);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set("content-security-policy", policy);
  if (hsts !== null) response.headers.set("strict-transport-security", hsts);
  return response;
}

/**
 * Everything except the proxied API's routes (exact shapes, so a mistyped /api path still gets the
 * header on its 404). Those add the same header themselves (lib/http.ts apiRoute, in lib/api-routes.ts):
 * in production the lean API server (src/server/main.ts) answers them before Next sees them at all, and
 * under `next dev` their route files adapt the same handlers. tests/api-headers.test.ts checks every
 * route module.
 */
export const config = {
  matcher: [
    "/((?!api/(?:tasks(?:/[^/]+(?:/complete)?)?|chat|conversations/[^/]+|auth/(?:login|logout|register|session))$).*)",
  ],
};
