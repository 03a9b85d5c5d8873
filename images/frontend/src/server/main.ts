/**
 * The frontend's server entry (the image runs `node dist/server/main.js` in the standalone tree):
 * one node:http server that answers the proxied API itself (lean.ts) and hands everything else
 * (pages, static files, Next's 404s) to Next's own request handler, in one process.
 *
 * It keeps what Next's standalone server.js (start-server.js) did: the configuration Next built
 * (.next/required-server-files.json, handed over the way server.js hands it), 0.0.0.0:PORT,
 * KEEP_ALIVE_TIMEOUT, Node's request deadlines (headersTimeout 60 s, requestTimeout 300 s), and on
 * SIGTERM/SIGINT a graceful stop: no new connections, in-flight requests finished, then exit 143/130.
 * Plus the start-up configuration check (a bad BACKEND_URL exits 1 with one line) before listening.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";

import { checkStartupConfig } from "../instrumentation-node";
import { handleApi } from "./lean";

type NextHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
interface NextApp {
  prepare(): Promise<void>;
  getRequestHandler(): NextHandler;
  close(): Promise<void>;
}

/** The standalone tree's root: this file is dist/server/main.js in it. */
const dir = path.resolve(__dirname, "..", "..");

/** KEEP_ALIVE_TIMEOUT in ms, as Next's server.js reads it: anything but a whole number >= 0 is ignored. */
export function keepAliveTimeout(raw: string | undefined): number | undefined {
  const value = parseInt(raw ?? "", 10);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * The server: the proxied API answered by the lean handler, every other request handed to `toNext`
 * (Next's request handler in production; tests pass a stand-in). A failure in `toNext` answers 500,
 * as Next's own start-server does.
 */
export function createServer(toNext: NextHandler, keepAliveMs?: number): http.Server {
  const server = http.createServer((request, response) => {
    if (handleApi(request, response)) return;
    toNext(request, response).catch((exc: unknown) => {
      console.error(`Failed to handle request for ${request.url}`, exc);
      if (!response.headersSent) {
        response.statusCode = 500;
        response.end("Internal Server Error");
      } else {
        response.destroy();
      }
    });
  });
  if (keepAliveMs !== undefined) server.keepAliveTimeout = keepAliveMs;
  return server;
}

function main(): void {
  (process.env as Record<string, string>).NODE_ENV = "production";
  process.chdir(dir);
  checkStartupConfig();
  const port = parseInt(process.env.PORT ?? "", 10) || 3000;
  // Listen on all interfaces whatever HOSTNAME says: Kubernetes and Docker set it to the pod or
  // container name, and a server bound to that one address would miss probes on the others.
  const hostname = "0.0.0.0";

  // Next reads this instead of next.config.ts, which the standalone tree does not carry.
  const { config } = JSON.parse(readFileSync(path.join(dir, ".next", "required-server-files.json"), "utf8")) as {
    config: unknown;
  };
  process.env.__NEXT_PRIVATE_STANDALONE_CONFIG = JSON.stringify(config);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const next = require("next") as (options: object) => NextApp;
  const app = next({ dev: false, dir, hostname, port, quiet: true });
  const ready = app.prepare();
  let nextHandler: NextHandler | null = null;

  const server = createServer(async (request, response) => {
    if (nextHandler === null) {
      await ready;
      nextHandler = app.getRequestHandler();
    }
    await nextHandler(request, response);
  }, keepAliveTimeout(process.env.KEEP_ALIVE_TIMEOUT));
  server.on("error", (exc) => {
    console.error("Failed to start server", exc);
    process.exit(1);
  });

  // Next installs no signal handlers for a custom server: this is what its start-server did (the chart's
  // preStop sleep comes first, terminationGracePeriodSeconds covers the rest).
  let stopping = false;
  const stop = (signal: "SIGTERM" | "SIGINT") => {
    if (stopping) return;
    stopping = true;
    // close(): no new connections, idle keep-alive ones closed now, busy ones after their answer.
    server.close(() => {
      app.close().catch((exc: unknown) => console.error(exc)).finally(() => process.exit(signal === "SIGTERM" ? 143 : 130));
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  ready.catch((exc: unknown) => {
    console.error("Failed to start Next.js", exc);
    process.exit(1);
  });
  server.listen(port, hostname, () => {
    console.log(`frontend listening on http://${hostname}:${port} (API: lean server; pages: Next.js)`);
  });
}

if (require.main === module) main();
