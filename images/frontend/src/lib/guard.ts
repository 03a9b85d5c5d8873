/**
 * The checks every mutating /api route makes before it forwards anything (security review, issue 16):
 *
 *   - CSRF: an unsafe method (POST, PUT, PATCH, DELETE) whose `Sec-Fetch-Site` is `cross-site`, or
 *     whose `Origin` is not this server's own, is refused with 403. The session cookie is
 *     SameSite=Lax, which stops most cross-site posts, but not a same-site attacker, and a `text/plain`
 *     form could still log a victim into the attacker's account. Requests that carry neither header
 *     are not from a browser page (curl, the load test, server-to-server) and cannot ride on a
 *     victim's cookie, so they pass.
 *   - Content type: a JSON route refuses a non-empty body that is not `application/json` with 415,
 *     so an HTML form (which cannot send JSON) can never reach it. An empty body needs no type
 *     (PATCH .../complete with no body toggles).
 *   - Size: a body above MAX_BODY_BYTES is refused with 413 before it is read whole: a declared
 *     Content-Length at once, a chunked body as soon as it grows past the limit.
 */
import { type ApiAnswer, type ApiRequest, jsonError } from "./http";

/** The largest request body the /api routes accept; equals the backend's limit (README, DEPLOYMENT.md). */
export const MAX_BODY_BYTES = 64 * 1024;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export const GUARD_MESSAGES = {
  crossSite: "Cross-site requests are not allowed.",
  notJson: "The request body must be JSON (Content-Type: application/json).",
  tooLarge: `The request is too large (at most ${MAX_BODY_BYTES} bytes).`,
} as const;

// Refusals carry the API's headers like every other /api answer (lib/http.ts).
const refuse = jsonError;

/** The hosts this request may legitimately come from: its Host, and the proxy's X-Forwarded-Host. */
function ownHosts(request: ApiRequest): Set<string> {
  const hosts = new Set<string>();
  const host = request.headers.host;
  if (host) hosts.add(host.toLowerCase());
  const forwarded = request.headers["x-forwarded-host"];
  if (forwarded) hosts.add(forwarded.split(",")[0].trim().toLowerCase());
  return hosts;
}

/** 403 for a cross-site unsafe request, else null. */
export function refuseCrossSite(request: ApiRequest): ApiAnswer | null {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return null;
  if ((request.headers["sec-fetch-site"] ?? "").toLowerCase() === "cross-site") {
    return refuse(403, "cross_site_request", GUARD_MESSAGES.crossSite);
  }
  const origin = request.headers.origin;
  if (origin === undefined) return null;
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase(); // "null" (sandboxed frames, some redirects) throws
  } catch {
    return refuse(403, "cross_site_request", GUARD_MESSAGES.crossSite);
  }
  return ownHosts(request).has(originHost) ? null : refuse(403, "cross_site_request", GUARD_MESSAGES.crossSite);
}

function isJson(contentType: string | undefined): boolean {
  const media = (contentType ?? "").split(";")[0].trim().toLowerCase();
  return media === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(media);
}

/** Read the body as text, at most MAX_BODY_BYTES; a 413 answer when it is larger. */
export async function readLimitedBody(request: ApiRequest): Promise<string | ApiAnswer> {
  const declared = request.headers["content-length"];
  if (declared !== undefined && (!/^\d+$/.test(declared.trim()) || Number(declared) > MAX_BODY_BYTES)) {
    return refuse(413, "payload_too_large", GUARD_MESSAGES.tooLarge);
  }
  const body = await request.readBody(MAX_BODY_BYTES);
  return body === null ? refuse(413, "payload_too_large", GUARD_MESSAGES.tooLarge) : body;
}

/**
 * Every check of a mutating route in one call. Returns the request body (text; "" when none or when
 * `body` is false) or the refusal to send instead.
 */
export async function guardRequest(request: ApiRequest, options: { body: boolean }): Promise<string | ApiAnswer> {
  const crossSite = refuseCrossSite(request);
  if (crossSite) return crossSite;
  if (!options.body) return "";
  const body = await readLimitedBody(request);
  // Checked on what arrived rather than on the headers: whether a body "is there" is not reliably
  // told by Content-Length / Transfer-Encoding, and reading at most 64 KiB first is cheap.
  if (typeof body === "string" && body !== "" && !isJson(request.headers["content-type"])) {
    return refuse(415, "unsupported_media_type", GUARD_MESSAGES.notJson);
  }
  return body;
}
