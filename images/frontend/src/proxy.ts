/**
 * Next.js Proxy (the file convention formerly called middleware): runs in the Node.js runtime before
 * pages, static files and the few /api routes that are not the proxied API (config.matcher below).
 *
 * It adds Strict-Transport-Security from HSTS_MAX_AGE. That cannot live with the other security
 * headers in next.config.ts: `headers()` there is evaluated by `next build` and frozen into the
 * build's routes manifest, and one image must serve every environment (0 on a plain-HTTP kind
 * cluster, a year behind a TLS Ingress). Here the variable is read per request, like BACKEND_URL.
 */
import { NextResponse, type NextRequest } from "next/server";

import { hstsHeader } from "@/lib/http";

export function proxy(request: NextRequest): NextResponse {
  const hsts = hstsHeader(request.nextUrl.pathname);
  if (hsts instanceof NextResponse) return hsts;
  const response = NextResponse.next();
  if (hsts !== null) response.headers.set("strict-transport-security", hsts);
  return response;
}

/**
 * Everything except the proxied API's routes (exact shapes, so a mistyped /api path still gets the
 * header on its 404). Those add the same header themselves (lib/http.ts apiRoute): the Proxy costs
 * each request a second trip through Next's pipeline (runMiddleware, a thrown BubbledError), and
 * these are the requests the app serves most. A new route under these paths must be wrapped in
 * apiRoute; tests/api-headers.test.ts checks every route module.
 */
export const config = {
  matcher: [
    "/((?!api/(?:tasks(?:/[^/]+(?:/complete)?)?|chat|conversations/[^/]+|auth/(?:login|logout|register|session))$).*)",
  ],
};
