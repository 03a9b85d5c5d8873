// After `next build`: make .next/standalone a complete, runnable server tree.
// Next's standalone output leaves the static assets and public/ out; they must sit
// next to server.js (.next/standalone/.next/static and .next/standalone/public).
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const standalone = path.join(root, ".next", "standalone");
if (!existsSync(path.join(standalone, "server.js"))) {
  console.error("copy-standalone-assets: .next/standalone/server.js is missing; is output: 'standalone' set?");
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

// Listen on all interfaces whatever HOSTNAME says. Next's server.js binds to
// process.env.HOSTNAME, which Kubernetes and Docker set to the pod/container name:
// the server would then listen on one address only and miss probes on others.
const serverJs = path.join(standalone, "server.js");
const original = readFileSync(serverJs, "utf8");
const bindLine = /const hostname = process\.env\.HOSTNAME \|\| '0\.0\.0\.0'/;
if (!bindLine.test(original) && !original.includes("const hostname = '0.0.0.0'")) {
  console.error("copy-standalone-assets: cannot find the hostname line in server.js; check the Next.js version");
  process.exit(1);
}
writeFileSync(serverJs, original.replace(bindLine, "const hostname = '0.0.0.0' // patched: all interfaces"));
console.log("copy-standalone-assets: server.js listens on 0.0.0.0 (all interfaces)");
