import type { NextConfig } from "next";

// BACKEND_URL is deliberately NOT listed under `env` and never exposed as NEXT_PUBLIC_*:
// the route handlers read it from process.env at request time, so one image serves
// every environment (a ConfigMap change plus a pod restart points it elsewhere).
// Security headers on every response, pages and /api alike (security review, issue 16). The CSP
// holds only the directives that cannot break Next.js (it injects inline scripts, so a script-src
// policy would need nonces): nobody may frame the app (clickjacking), a <base> tag cannot redirect
// relative URLs, and forms may only post to this origin.
const SECURITY_HEADERS = [
  { key: "Content-Security-Policy", value: "frame-ancestors 'none'; base-uri 'self'; form-action 'self'" },
  { key: "X-Frame-Options", value: "DENY" }, // frame-ancestors for browsers that predate it
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
];

const nextConfig: NextConfig = {
  async headers() {
    return [{ source: "/:path*", headers: SECURITY_HEADERS }];
  },
  output: "standalone",
  // Keep the standalone tree self-contained: .next/standalone/server.js, not a nested path.
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
