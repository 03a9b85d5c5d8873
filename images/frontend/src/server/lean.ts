/**
 * The lean API server: the proxied API (lib/api-routes.ts) on plain node:http, without Next's request
 * pipeline (routing, NextRequest/NextResponse, web streams, AsyncLocalStorage, chunked answers), which
 * cost ~5 ms of CPU per proxied request against ~0.1 ms here (bench/bench_frontend.py).
 *
 * `handleApi` answers a request whose path and method are ours and returns true; anything else returns
 * false for Next to answer. Each answer carries what Next would have added: the security headers of
 * lib/security-headers.ts (next.config.ts gives Next the same list); no X-Powered-By (poweredByHeader
 * is off), no compression (every API answer says no-transform, or is too small for Next's gzip).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

import { matchApiRoute } from "../lib/api-routes";
import { serializeCookie } from "../lib/cookies";
import type { ApiAnswer, ApiRequest } from "../lib/http";
import { SECURITY_HEADERS } from "../lib/security-headers";

const SECURITY: Record<string, string> = Object.fromEntries(SECURITY_HEADERS.map(({ key, value }) => [key.toLowerCase(), value]));

/** Read at most `limit` bytes of the body; null (and the rest left unread) when it is larger. */
function readBody(request: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.off("data", onData).off("end", onEnd).pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(chunks.length === 1 ? chunks[0].toString("utf8") : Buffer.concat(chunks).toString("utf8"));
    request.on("data", onData).on("end", onEnd).on("error", reject);
  });
}

/** Node's header object as it is: names lower case, repeats joined (only Set-Cookie, never sent to us, is a list). */
function headersOf(request: IncomingMessage): Record<string, string | undefined> {
  return request.headers as Record<string, string | undefined>;
}

function send(response: ServerResponse, answer: ApiAnswer, closeAfter: boolean): void {
  // One object handed to writeHead (no setHeader per header): Node's cheapest way to the header block.
  const headers: Record<string, string | number | string[]> = { ...SECURITY, ...answer.headers };
  if (answer.cookies.length) headers["set-cookie"] = answer.cookies.map((cookie) => serializeCookie(cookie));
  // A body refused unread stays on the connection: close it rather than read the rest.
  if (closeAfter) response.shouldKeepAlive = false;
  if (answer.body === null) {
    response.writeHead(answer.status, headers);
    response.end();
    return;
  }
  // A string body: Node then sends the headers and the body in one write (a Buffer would take a writev).
  headers["content-length"] = Buffer.byteLength(answer.body, "utf8");
  response.writeHead(answer.status, headers);
  response.end(answer.body, "utf8");
}

/** Answer the request if it is the API's; false when Next should. */
export function handleApi(request: IncomingMessage, response: ServerResponse): boolean {
  const url = request.url ?? "/";
  const queryAt = url.indexOf("?");
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const method = (request.method ?? "GET").toUpperCase();
  const route = matchApiRoute(path, method);
  if (!route) return false;
  let bodyLeftUnread = false;
  const apiRequest: ApiRequest = {
    method,
    path,
    query: new URLSearchParams(queryAt === -1 ? "" : url.slice(queryAt + 1)),
    headers: headersOf(request),
    protocol: "encrypted" in request.socket && request.socket.encrypted ? "https:" : "http:",
    peerAddress: request.socket.remoteAddress,
    readBody: async (limit) => {
      const body = await readBody(request, limit);
      bodyLeftUnread = body === null;
      return body;
    },
  };
  const fail = (exc: unknown) => {
    console.error(JSON.stringify({ level: "error", logger: "api", event: "handler_failed", path, reason: String(exc) }));
    if (!response.headersSent) send(response, { status: 500, headers: {}, body: null, cookies: [] }, true);
    else response.destroy();
  };
  try {
    const answer = route.handler(apiRequest, route.params);
    if (answer instanceof Promise) {
      answer.then((value) => send(response, value, bodyLeftUnread), fail);
    } else {
      send(response, answer, bodyLeftUnread);
    }
  } catch (exc) {
    fail(exc);
  }
  return true;
}
