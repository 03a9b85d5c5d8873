/**
 * The session cookie: the backend's JWT plus the user's id and email, in one
 * httpOnly, SameSite=Lax cookie set by the route handlers. The browser's scripts
 * never see the token (no localStorage).
 */
import type { CookieOptions } from "./cookies";

export const SESSION_COOKIE = "todo_session";

export interface Session {
  token: string;
  userId: string;
  email: string;
}

/**
 * The backend's user ids are UUIDs (todo_api.models.User.id). The id from the cookie goes into the
 * backend's path (/api/{user_id}/...), so anything else is refused rather than forwarded: a forged
 * or stale cookie must not be able to steer the proxy to another backend route.
 */
const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUserId(value: unknown): value is string {
  return typeof value === "string" && USER_ID.test(value);
}

export function encodeSession(session: Session): string {
  return Buffer.from(JSON.stringify(session), "utf8").toString("base64url");
}

export function decodeSession(value: string | undefined | null): Session | null {
  if (!value) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
    if (
      parsed &&
      typeof parsed === "object" &&
      typeof (parsed as Session).token === "string" &&
      isUserId((parsed as Session).userId) &&
      (parsed as Session).token !== ""
    ) {
      const s = parsed as Session;
      return { token: s.token, userId: s.userId, email: typeof s.email === "string" ? s.email : "" };
    }
  } catch {
    // fall through: a tampered or foreign cookie is simply no session
  }
  return null;
}

/** Seconds until the JWT's `exp`, or undefined when it has none (a browser-session cookie). */
export function tokenMaxAge(token: string, nowSeconds: number = Date.now() / 1000): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown };
    if (typeof claims.exp === "number") return Math.max(0, Math.floor(claims.exp - nowSeconds));
  } catch {
    // not a JWT we can read: let the cookie live for the browser session
  }
  return undefined;
}

/** True when the request reached us over HTTPS (directly or through a TLS-terminating proxy). */
export function isHttps(urlOrProtocol: string, forwardedProto: string | null): boolean {
  if (forwardedProto) return forwardedProto.split(",")[0].trim().toLowerCase() === "https";
  return urlOrProtocol.startsWith("https:");
}

export function cookieOptions(secure: boolean, maxAge?: number): CookieOptions {
  return {
    httpOnly: true,
    sameSite: "lax" as const,
    secure,
    path: "/",
    ...(maxAge !== undefined ? { maxAge } : {}),
  };
}
