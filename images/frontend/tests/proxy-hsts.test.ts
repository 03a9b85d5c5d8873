// @vitest-environment node
import { NextRequest } from "next/server";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { proxy } from "@/proxy";

const get = (path: string) => proxy(new NextRequest(`http://frontend.test${path}`));

beforeEach(() => {
  vi.spyOn(console, "error").mockImplementation(() => {});
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("the Proxy's Strict-Transport-Security (HSTS_MAX_AGE)", () => {
  it.each(["/login", "/", "/api/healthz", "/_next/static/chunks/x.js"])("adds max-age to %s", (path) => {
    vi.stubEnv("HSTS_MAX_AGE", "31536000");
    const res = get(path);
    expect(res.headers.get("strict-transport-security")).toBe("max-age=31536000");
    expect(res.headers.get("x-middleware-next")).toBe("1"); // the request goes on to the page or route
  });

  it.each([undefined, "", "0"])("sends no header for %j", (value) => {
    if (value !== undefined) vi.stubEnv("HSTS_MAX_AGE", value);
    else vi.stubEnv("HSTS_MAX_AGE", undefined as unknown as string);
    expect(get("/login").headers.get("strict-transport-security")).toBeNull();
  });

  it("reads the variable per request", () => {
    vi.stubEnv("HSTS_MAX_AGE", "60");
    expect(get("/").headers.get("strict-transport-security")).toBe("max-age=60");
    vi.stubEnv("HSTS_MAX_AGE", "0");
    expect(get("/").headers.get("strict-transport-security")).toBeNull();
  });

  it("a malformed value answers 503 and logs one line naming HSTS_MAX_AGE", async () => {
    vi.stubEnv("HSTS_MAX_AGE", "1y");
    const res = get("/login");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "frontend_misconfigured" });
    const logged = vi.mocked(console.error).mock.calls.map((c) => String(c[0]));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain("HSTS_MAX_AGE is malformed");
    expect(logged[0]).not.toContain("\n");
  });
});

describe("the Proxy's Content-Security-Policy with a nonce (issue 27)", () => {
  it("allows scripts only with a fresh nonce, and hands the same policy to Next for its scripts", () => {
    const first = get("/login");
    const policy = first.headers.get("content-security-policy") ?? "";
    const nonce = /'nonce-([A-Za-z0-9+/=]{20,})'/.exec(policy)?.[1];
    expect(nonce).toBeTruthy();
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("'strict-dynamic'");
    expect(policy).not.toContain("'unsafe-inline' 'nonce"); // scripts: the nonce, never unsafe-inline
    expect(policy).not.toMatch(/script-src[^;]*'unsafe-inline'/);
    // Next reads the nonce from the request's header (x-middleware-request-* carries it on).
    expect(first.headers.get("x-middleware-request-content-security-policy")).toBe(policy);
    expect(get("/login").headers.get("content-security-policy")).not.toBe(policy); // per request
  });
});
