import type { NextConfig } from "next";

// BACKEND_URL is deliberately NOT listed under `env` and never exposed as NEXT_PUBLIC_*:
// the route handlers read it from process.env at request time, so one image serves
// every environment (a ConfigMap change plus a pod restart points it elsewhere).
const nextConfig: NextConfig = {
  output: "standalone",
  // Keep the standalone tree self-contained: .next/standalone/server.js, not a nested path.
  outputFileTracingRoot: __dirname,
  turbopack: { root: __dirname },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
