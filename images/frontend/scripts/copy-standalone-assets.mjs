// After `next build`: make .next/standalone a complete, runnable server tree.
// Next's standalone output leaves the static assets and public/ out; they must sit
// in the tree's root (.next/standalone/.next/static and .next/standalone/public).
import { cpSync, existsSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const standalone = path.join(root, ".next", "standalone");
if (!existsSync(path.join(standalone, ".next", "required-server-files.json"))) {
  console.error("copy-standalone-assets: .next/standalone is incomplete; is output: 'standalone' set?");
  process.exit(1);
}
for (const [from, to] of [
  [path.join(root, ".next", "static"), path.join(standalone, ".next", "static")],
  [path.join(root, "public"), path.join(standalone, "public")],
]) {
  rmSync(to, { recursive: true, force: true });
  if (existsSync(from)) cpSync(from, to, { recursive: true });
}
console.log("copy-standalone-assets: .next/static and public copied into .next/standalone");

// The server is ours (src/server/main.ts, compiled by `tsc -p tsconfig.server.json` into dist/): it
// serves the proxied API itself and hands the rest to Next. Next's own server.js would start a server
// without the API's lean path (every API request through Next's pipeline): removed, so nothing
// starts it by mistake.
if (!existsSync(path.join(standalone, "dist", "server", "main.js"))) {
  console.error("copy-standalone-assets: dist/server/main.js is missing; run `tsc -p tsconfig.server.json` first");
  process.exit(1);
}
rmSync(path.join(standalone, "server.js"), { force: true });
console.log("copy-standalone-assets: Next's server.js removed; the entry is dist/server/main.js");
