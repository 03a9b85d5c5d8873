import { ConfigError, checkRuntimeConfig } from "./lib/config";

/**
 * A missing or malformed BACKEND_URL (or a malformed SESSION_COOKIE_SECURE or HSTS_MAX_AGE) stops the server at start-up with one line
 * naming it and exit code 1, instead of a server that fails on every request later.
 */
export function checkStartupConfig(): void {
  // `next build` may load instrumentation too; configuration belongs to the runtime, not the build.
  if (process.env.NEXT_PHASE === "phase-production-build") return;
  try {
    checkRuntimeConfig();
  } catch (exc) {
    const message = exc instanceof ConfigError ? exc.message : String(exc);
    process.stderr.write(`configuration error: ${message}\n`);
    process.exit(1);
  }
}
