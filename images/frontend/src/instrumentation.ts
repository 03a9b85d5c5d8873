/**
 * Runs once when the Next.js server starts (also the standalone `node server.js`).
 * The Node.js-only check lives in instrumentation-node.ts (the documented pattern,
 * so the Edge bundle never sees process.exit).
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { checkStartupConfig } = await import("./instrumentation-node");
    checkStartupConfig();
  }
}
