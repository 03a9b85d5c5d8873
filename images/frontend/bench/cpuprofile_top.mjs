// Summarise V8 .cpuprofile files (node --cpu-prof): the top frames by self time, and the share
// of time by where the code lives (next's server runtime, node: internals, undici, our app).
//
//   node bench/cpuprofile_top.mjs PROFILE_OR_DIR [--top 15]
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt >= 0 ? Number(args[topAt + 1]) : 15;
// Without --top, topAt is -1: nothing is skipped (topAt + 1 would drop the first input).
const inputs = args.filter((_, i) => topAt < 0 || (i !== topAt && i !== topAt + 1));
if (inputs.length === 0 || !Number.isInteger(top) || top < 1) {
  console.error("usage: node bench/cpuprofile_top.mjs PROFILE_OR_DIR [--top N]");
  process.exit(2);
}

const files = inputs.flatMap((input) => {
  try {
    return statSync(input).isDirectory()
      ? readdirSync(input).filter((f) => f.endsWith(".cpuprofile")).map((f) => path.join(input, f))
      : [input];
  } catch {
    console.error(`cpuprofile_top: ${input} does not exist`);
    process.exit(2);
  }
});
if (files.length === 0) {
  console.error(`cpuprofile_top: no .cpuprofile in ${inputs.join(", ")}`);
  process.exit(2);
}

/** Where a frame's code lives, in a few words. */
function area(url) {
  if (!url) return "(native/V8)";
  if (url.startsWith("node:")) return url.startsWith("node:internal/deps/undici") ? "undici (fetch)" : "node: internals";
  if (url.includes("/next/dist/compiled/")) return "next compiled deps";
  if (url.includes("/next/dist/")) return "next runtime";
  if (url.includes("/.next/server/")) return "app bundle (.next/server)";
  return "other";
}

const byFrame = new Map();
const byArea = new Map();
let total = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  // timeDeltas[i] is the time before sample i; attribute it to the sampled node.
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  for (const [id, micros] of self) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    if (functionName === "(idle)") continue; // waiting for I/O: not CPU
    total += micros;
    const short = url.replace(/^.*\/node_modules\//, "").replace(/^file:\/\//, "");
    const key = `${functionName || "(anonymous)"}  ${short}${url ? `:${lineNumber + 1}` : ""}`;
    byFrame.set(key, (byFrame.get(key) ?? 0) + micros);
    byArea.set(area(url), (byArea.get(area(url)) ?? 0) + micros);
  }
}

const pct = (v) => `${((100 * v) / total).toFixed(1).padStart(5)}%`;
const ms = (v) => `${(v / 1000).toFixed(0).padStart(7)} ms`;
console.log(`${files.length} profile(s), ${(total / 1000).toFixed(0)} ms sampled (idle excluded)`);
console.log(`\ntop ${top} frames by self time:`);
for (const [key, v] of [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(v)} ${pct(v)}  ${key}`);
console.log("\nself time by area:");
for (const [key, v] of [...byArea].sort((a, b) => b[1] - a[1])) console.log(`${ms(v)} ${pct(v)}  ${key}`);
