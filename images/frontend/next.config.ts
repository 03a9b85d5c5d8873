import type { NextConfig } from "next";

import { SECURITY_HEADERS } from "./src/lib/security-headers";

// BACKEND_URL is deliberately NOT listed under `env` and never exposed as NEXT_PUBLIC_*:
// the API handlers read it from process.env at request time, so one image serves
// every environment (a ConfigMap change plus a pod restart points it elsewhere).
// Security headers on every response (lib/security-headers.ts; the lean API server sends the same).

const nextConfig: NextConfig = {
  async headers() {
    return [{ source: "/:path*", headers: [...SECURITY_HEADERS] }];
  },
  output: "standalone",
  // Keep the standalone tree self-contained (.next/standalone/.next, not a nested path); the server
  // entry, src/server/main.ts, is compiled into it as dist/server/main.js (npm run build).
  outputFileTracingRoot: __dirname,
  // The app has no raster images (no next/image, nothing under public/ but robots.txt), so
  // the image optimizer is off: /_next/image answers 404 and `sharp` is never loaded. Its
  // native binaries (@img/sharp-libvips-*, @img/sharp-wasm32: ~28 MB, over half of the
  // standalone tree) are therefore kept out of .next/standalone and the image.
  images: { unoptimized: true },
  outputFileTracingExcludes: { "*": ["**/node_modules/sharp/**/*", "**/node_modules/@img/**/*"] },
  turbopack: { root: __dirname },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
