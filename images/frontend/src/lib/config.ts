/**
 * Runtime configuration. BACKEND_URL is read from the environment on every call
 * (request time), never inlined at build time and never exposed to the browser.
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
