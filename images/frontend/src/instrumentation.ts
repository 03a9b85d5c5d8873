/**
 * Runs once when Next.js starts (`next dev`; in production Next starts inside our server,
 * src/server/main.ts, which runs the same check before it listens).
 * The Node.js-only check lives in instrumentation-node.ts (the documented pattern,
 * so the Edge bundle never sees process.exit).
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { checkStartupConfig } = await import("./instrumentation-node");
    checkStartupConfig();
  }
}
