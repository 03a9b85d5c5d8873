import { NextResponse, type NextRequest } from "next/server";

import { guardRequest } from "@/lib/guard";
import { ConfigError } from "@/lib/config";
import { MESSAGES, callBackend, jsonError, log, relay, sessionCookieIsSecure } from "@/lib/proxy";
import { SESSION_COOKIE, cookieOptions, encodeSession, isUserId, tokenMaxAge } from "@/lib/session";
import { apiJson, apiRoute } from "@/lib/http";

export const dynamic = "force-dynamic";

/**
 * POST {email, password}. On success the backend's JWT goes into the httpOnly
 * session cookie and the browser gets only {user_id, email}; the token never
 * reaches page scripts.
 */
export const POST = apiRoute(async (request: NextRequest) => {
  const body = await guardRequest(request, { body: true });
  if (body instanceof NextResponse) return body;
  // Decided before the backend is asked: a malformed SESSION_COOKIE_SECURE refuses the sign-in
  // (503, the variable named in the log) instead of handing out a cookie of the wrong kind.
  let secure: boolean;
  try {
    secure = sessionCookieIsSecure(request);
  } catch (exc) {
    if (!(exc instanceof ConfigError)) throw exc;
    log("misconfigured", { reason: exc.message });
    return jsonError(503, "frontend_misconfigured", MESSAGES.misconfigured);
  }
  const response = await callBackend({ method: "POST", path: "/api/auth/login", body });
  const relayed = relay(response);
  if (relayed.status !== 200) return relayed;
  const data = (await relayed.json()) as { access_token?: unknown; user_id?: unknown };
  if (typeof data.access_token !== "string" || !isUserId(data.user_id)) {
    return jsonError(502, "backend_error", "The task service gave an unexpected answer.");
  }
  let email = "";
  try {
    const parsed = JSON.parse(body) as { email?: unknown };
    if (typeof parsed.email === "string") email = parsed.email.trim().toLowerCase();
  } catch {
    // the backend accepted it, so it was JSON; nothing to do
  }
  const userId = data.user_id;
  const out = apiJson({ user_id: userId, email });
  out.cookies.set(
    SESSION_COOKIE,
    encodeSession({ token: data.access_token, userId, email }),
    cookieOptions(secure, tokenMaxAge(data.access_token)),
  );
  return out;
});
