/**
 * Runtime configuration. BACKEND_URL, SESSION_COOKIE_SECURE and HSTS_MAX_AGE are read from the
 * environment on every call (request time), never inlined at build time and never exposed to the
 * browser: one image serves every environment.
 */

export class ConfigError extends Error {}

const ENV_NAME = "BACKEND_URL";

/** Validate a BACKEND_URL value; returns it normalised (no trailing slash) or throws ConfigError. */
export function parseBackendUrl(raw: string | undefined): string {
  if (raw === undefined || raw.trim() === "") {
    throw new ConfigError(
      `${ENV_NAME} is not set: set it to the backend's base URL, e.g. http://todo-backend:8000`,
    );
  }
  const value = raw.trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      `${ENV_NAME} is malformed (${JSON.stringify(value)}): expected an absolute http(s) URL such as http://todo-backend:8000`,
    );
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
    throw new ConfigError(
      `${ENV_NAME} is malformed (${JSON.stringify(value)}): expected an absolute http(s) URL such as http://todo-backend:8000`,
    );
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError(
      `${ENV_NAME} is malformed (${JSON.stringify(value)}): it must not carry a query, fragment or credentials`,
    );
  }
  return url.toString().replace(/\/+$/, "");
}

/** The backend base URL, read from process.env now (not at build time). */
export function backendUrl(env: Record<string, string | undefined> = process.env): string {
  return parseBackendUrl(env[ENV_NAME]);
}

/**
 * SESSION_COOKIE_SECURE (the chart's config.sessionCookieSecure): whether the session cookie carries
 * `Secure`. "auto" (the default) follows the request: Secure when it arrived over HTTPS, directly or
 * as the TLS-terminating proxy says in X-Forwarded-Proto. "true" always (a site served only over
 * HTTPS, where a proxy that forgets X-Forwarded-Proto must not downgrade the cookie); "false" never.
 */
export type CookieSecureMode = "auto" | "true" | "false";

const COOKIE_SECURE_ENV = "SESSION_COOKIE_SECURE";
const COOKIE_SECURE_MODES: readonly CookieSecureMode[] = ["auto", "true", "false"];

export function parseSessionCookieSecure(raw: string | undefined): CookieSecureMode {
  const value = (raw ?? "").trim().toLowerCase();
  if (value === "") return "auto";
  if ((COOKIE_SECURE_MODES as readonly string[]).includes(value)) return value as CookieSecureMode;
  throw new ConfigError(
    `${COOKIE_SECURE_ENV} is malformed (${JSON.stringify(raw)}): expected auto, true or false`,
  );
}

export function sessionCookieSecure(env: Record<string, string | undefined> = process.env): CookieSecureMode {
  return parseSessionCookieSecure(env[COOKIE_SECURE_ENV]);
}

/**
 * HSTS_MAX_AGE (the chart's config.hstsMaxAge): seconds of Strict-Transport-Security on every
 * response; 0 (the default) sends no header, so a plain-HTTP install (kind, a laptop) is not
 * pinned to HTTPS by accident. A whole number of seconds only: "1y" or "-1" are refused rather
 * than guessed at, because a wrong HSTS value is hard to take back from browsers.
 */
const HSTS_ENV = "HSTS_MAX_AGE";
/** Two years: far above the one year browsers' preload lists ask for; anything larger is a typo. */
export const HSTS_MAX_AGE_LIMIT = 63_072_000;

export function parseHstsMaxAge(raw: string | undefined): number {
  const value = (raw ?? "").trim();
  if (value === "") return 0;
  if (!/^\d+$/.test(value) || Number(value) > HSTS_MAX_AGE_LIMIT) {
    throw new ConfigError(
      `${HSTS_ENV} is malformed (${JSON.stringify(raw)}): expected a whole number of seconds from 0 to ${HSTS_MAX_AGE_LIMIT}, e.g. 31536000 (0 sends no header)`,
    );
  }
  return Number(value);
}

export function hstsMaxAge(env: Record<string, string | undefined> = process.env): number {
  return parseHstsMaxAge(env[HSTS_ENV]);
}

/**
 * PROXY_TOKEN (from the chart's Secret, never a ConfigMap): sent to the backend with the client's
 * address (X-Todo-Client), so the backend keys its sign-in limits on the real caller and not on this
 * pod (issue 27). Optional: unset, the backend keys on this pod's address. At least 32 characters.
 */
const PROXY_TOKEN_ENV = "PROXY_TOKEN";

export function proxyToken(env: Record<string, string | undefined> = process.env): string | null {
  const value = (env[PROXY_TOKEN_ENV] ?? "").trim();
  if (value === "") return null;
  if (value.length < 32) {
    throw new ConfigError(`${PROXY_TOKEN_ENV} is too short: at least 32 characters (openssl rand -hex 32)`);
  }
  return value;
}

/**
 * TRUSTED_PROXY_HOPS (the chart sets 1 behind its Ingress): how many proxies in front of this server
 * append to X-Forwarded-For. The client is the address the outermost trusted one saw; 0 (the default)
 * trusts no header and takes the connection's peer, which nobody can forge.
 */
const HOPS_ENV = "TRUSTED_PROXY_HOPS";

export function trustedProxyHops(env: Record<string, string | undefined> = process.env): number {
  const value = (env[HOPS_ENV] ?? "").trim();
  if (value === "") return 0;
  if (!/^[0-9]$/.test(value)) {
    throw new ConfigError(`${HOPS_ENV} is malformed (${JSON.stringify(env[HOPS_ENV])}): expected a whole number from 0 to 9, e.g. 1 behind one ingress controller`);
  }
  return Number(value);
}

/** Every runtime setting checked at once (start-up): throws the first ConfigError. */
export function checkRuntimeConfig(env: Record<string, string | undefined> = process.env): void {
  backendUrl(env);
  sessionCookieSecure(env);
  hstsMaxAge(env);
  proxyToken(env);
  trustedProxyHops(env);
}
