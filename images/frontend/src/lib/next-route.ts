/**
 * The Next.js route files under src/app/api adapt the API's handlers (lib/api-routes.ts) to Next's
 * NextRequest/NextResponse. In production the lean API server (src/server/lean.ts) answers these paths
 * before Next sees them; the adapters keep `next dev` (and any request the lean server hands on)
 * served by the same code.
 */
import { NextResponse, type NextRequest } from "next/server";

import { API_ROUTES, type ApiRouteName } from "./api-routes";
import { serializeCookie } from "./cookies";
import type { ApiAnswer, ApiHandler, ApiRequest } from "./http";

type Context = { params: Promise<Record<string, string>> };

export function fromNextRequest(request: NextRequest): ApiRequest {
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return {
    method: request.method.toUpperCase(),
    path: request.nextUrl.pathname,
    query: request.nextUrl.searchParams,
    headers,
    protocol: request.nextUrl.protocol,
    async readBody(limit) {
      if (request.body === null) return "";
      const reader = request.body.getReader();
      const chunks: Uint8Array[] = [];
      let size = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          await reader.cancel().catch(() => {});
          return null;
        }
        chunks.push(value);
      }
      return Buffer.concat(chunks).toString("utf8");
    },
  };
}

export function toNextResponse(answer: ApiAnswer): NextResponse {
  const headers = new Headers(answer.headers);
  // Before the response is made: NextResponse reads its `cookies` from these headers once.
  for (const cookie of answer.cookies) headers.append("set-cookie", serializeCookie(cookie));
  return new NextResponse(answer.body, { status: answer.status, headers });
}

/** One exported method of a route file: `export const GET = nextRoute("tasks", "GET")`. */
export function nextRoute<N extends ApiRouteName>(name: N, method: keyof (typeof API_ROUTES)[N]) {
  const handler = API_ROUTES[name][method] as ApiHandler;
  return async (request: NextRequest, context?: Context): Promise<NextResponse> => {
    const params = context ? await context.params : {};
    return toNextResponse(await handler(fromNextRequest(request), params));
  };
}
