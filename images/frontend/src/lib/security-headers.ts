/**
 * Security headers on every response, pages and /api alike (security review, issue 16), in one place:
 * next.config.ts hands them to Next (pages, static files, Next's own 404s) and the lean API server
 * (src/server/lean.ts) writes them on the proxied API's answers, which never reach Next.
 * The CSP: everything from this origin only (default-src 'self': no third-party script, style, image,
 * font or connection), no plugins, nobody may frame the app (clickjacking), a <base> tag cannot
 * redirect relative URLs, and forms may only post to this origin. Next.js injects inline scripts
 * and styles, so this static policy allows them ('unsafe-inline'); pages get a stricter one from the
 * Proxy (src/proxy.ts, pagePolicy): scripts only with a per-request nonce. An injected script still
 * cannot load code from or send data to elsewhere under either.
 * Permissions-Policy turns off the browser features the app never uses.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join("; ");

export const SECURITY_HEADERS: readonly { key: string; value: string }[] = [
  { key: "Content-Security-Policy", value: CONTENT_SECURITY_POLICY },
  {
    key: "Permissions-Policy",
    value: "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
  },
  { key: "X-Frame-Options", value: "DENY" }, // frame-ancestors for browsers that predate it
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
];

/** The pages' policy (src/proxy.ts): the static one, with scripts allowed only by this request's nonce. */
export function pagePolicy(nonce: string): string {
  return CONTENT_SECURITY_POLICY.replace("script-src 'self' 'unsafe-inline'", `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'`);
}
