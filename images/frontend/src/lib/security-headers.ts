/**
 * Security headers on every response, pages and /api alike (security review, issue 16), in one place:
 * next.config.ts hands them to Next (pages, static files, Next's own 404s) and the lean API server
 * (src/server/lean.ts) writes them on the proxied API's answers, which never reach Next.
 * The CSP holds only the directives that cannot break Next.js (it injects inline scripts, so a
 * script-src policy would need nonces): nobody may frame the app (clickjacking), a <base> tag cannot
 * redirect relative URLs, and forms may only post to this origin.
 */
export const SECURITY_HEADERS: readonly { key: string; value: string }[] = [
  { key: "Content-Security-Policy", value: "frame-ancestors 'none'; base-uri 'self'; form-action 'self'" },
  { key: "X-Frame-Options", value: "DENY" }, // frame-ancestors for browsers that predate it
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
];
