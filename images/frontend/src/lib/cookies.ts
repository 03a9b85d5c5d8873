/**
 * Cookie header parsing and Set-Cookie serialising, byte for byte what Next.js does
 * (next/dist/compiled/@edge-runtime/cookies: parseCookie, stringifyCookie, normalizeCookie), so the
 * lean API server and the Next route adapters send the same header (tests/cookies.test.ts compares).
 */

export interface CookieOptions {
  httpOnly: boolean;
  sameSite: "lax";
  secure: boolean;
  path: string;
  maxAge?: number;
}

export interface SetCookie {
  name: string;
  value: string;
  options: CookieOptions;
}

/** The request's cookies by name; a later duplicate wins, an undecodable value is skipped (as Next). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const map = new Map<string, string>();
  if (!header) return map;
  for (const pair of header.split(/; */)) {
    if (!pair) continue;
    const splitAt = pair.indexOf("=");
    if (splitAt === -1) {
      map.set(pair, "true");
      continue;
    }
    try {
      map.set(pair.slice(0, splitAt), decodeURIComponent(pair.slice(splitAt + 1)));
    } catch {
      // a malformed escape: Next drops the pair too
    }
  }
  return map;
}

/** One Set-Cookie value. A non-zero Max-Age also gets Expires, as Next's ResponseCookies.set adds. */
export function serializeCookie(cookie: SetCookie, now: number = Date.now()): string {
  const { path, maxAge, secure, httpOnly, sameSite } = cookie.options;
  const attrs: string[] = [];
  if (path) attrs.push(`Path=${path}`);
  if (maxAge) attrs.push(`Expires=${new Date(now + maxAge * 1000).toUTCString()}`);
  if (typeof maxAge === "number") attrs.push(`Max-Age=${maxAge}`);
  if (secure) attrs.push("Secure");
  if (httpOnly) attrs.push("HttpOnly");
  if (sameSite) attrs.push(`SameSite=${sameSite}`);
  const stringified = `${cookie.name}=${encodeURIComponent(cookie.value)}`;
  return attrs.length === 0 ? stringified : `${stringified}; ${attrs.join("; ")}`;
}
