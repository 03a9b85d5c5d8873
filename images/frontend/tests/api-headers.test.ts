// @vitest-environment node
/**
 * The proxied API's routes skip the Proxy (src/proxy.ts config.matcher) and add its
 * Strict-Transport-Security themselves (lib/http.ts apiRoute, lib/api-routes.ts); their answers carry
 * Cache-Control "no-store, no-transform", so Next's gzip leaves them alone. Checked on every
 * method of every route module, so a route added without apiRoute fails here.
 */
import { readdirSync } from "node:fs";
import path from "node:path";

import { unstable_doesMiddlewareMatch } from "next/experimental/testing/server";
import { NextRequest } from "next/server";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { API_ROUTES, matchApiRoute } from "@/lib/api-routes";
import { type ApiAnswer, type ApiRequest, apiJsonText, apiRoute, emptyAnswer, jsonError } from "@/lib/http";
import { relay } from "@/lib/proxy";
import { config } from "@/proxy";

const API = path.resolve(__dirname, "../src/app/api");
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** Every route.ts under src/app/api as [url path with ids filled in, module path]. */
function routeFiles(dir = API): [string, string][] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return routeFiles(full);
    if (entry.name !== "route.ts") return [];
    const url = "/api/" + path.relative(API, dir).split(path.sep).join("/").replace(/\[id\]/g, "7");
    return [[url, full]];
  });
}

const ROUTES = routeFiles();
const proxied = ROUTES.filter(([url]) => url !== "/api/healthz");
const matches = (url: string) => unstable_doesMiddlewareMatch({ config, url });

beforeEach(() => {
  vi.spyOn(console, "error").mockImplementation(() => {});
  // Nothing listens here: forwarding routes answer 401 (no cookie) or 503 without a backend.
  vi.stubEnv("BACKEND_URL", "http://127.0.0.1:9");
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("the Proxy's matcher", () => {
  it("finds the route modules", () => {
    expect(proxied.map(([url]) => url)).toEqual(
      expect.arrayContaining(["/api/tasks", "/api/tasks/7", "/api/tasks/7/complete", "/api/chat", "/api/auth/login"]),
    );
  });

  it.each(proxied.map(([url]) => url))("skips the proxied API route %s", (url) => {
    expect(matches(url)).toBe(false);
  });

  it.each(["/", "/login", "/api/healthz", "/_next/static/chunks/x.js", "/favicon.ico", "/api/nothing",
    "/api/tasks/7/other", "/api/taskslist", "/api/auth/login/x", "/api/chatter"])("still runs on %s", (url) => {
    expect(matches(url)).toBe(true);
  });
});

describe.each(proxied)("%s (%s)", (url, file) => {
  const call = async (method: string) => {
    const exported = (await import(file)) as Record<string, ((...args: unknown[]) => Response | Promise<Response>) | undefined>;
    const handler = exported[method];
    if (!handler) return null;
    const request = new NextRequest(`http://frontend.test${url}`, {
      method,
      headers: method === "GET" ? {} : { "content-type": "application/json" },
      body: method === "GET" || method === "DELETE" ? undefined : "{}",
    });
    return handler(request, { params: Promise.resolve({ id: "7" }) });
  };

  it.each(METHODS)("%s carries HSTS_MAX_AGE's header", async (method) => {
    vi.stubEnv("HSTS_MAX_AGE", "31536000");
    const res = await call(method);
    if (res) expect(res.headers.get("strict-transport-security")).toBe("max-age=31536000");
  });

  it.each(METHODS)("%s carries none with HSTS_MAX_AGE=0", async (method) => {
    vi.stubEnv("HSTS_MAX_AGE", "0");
    const res = await call(method);
    if (res) expect(res.headers.get("strict-transport-security")).toBeNull();
  });

  it.each(METHODS)("%s with a malformed HSTS_MAX_AGE answers 503 naming the variable in the log", async (method) => {
    vi.stubEnv("HSTS_MAX_AGE", "1y");
    const res = await call(method);
    if (!res) return;
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "frontend_misconfigured" });
    expect(vi.mocked(console.error).mock.calls.some((c) => String(c[0]).includes("HSTS_MAX_AGE is malformed"))).toBe(true);
  });
});

describe("the route files and the lean server's table", () => {
  it("name the same routes and methods (lib/api-routes.ts API_ROUTES)", async () => {
    const fromFiles: Record<string, string[]> = {};
    for (const [url, file] of ROUTES) {
      const exported = (await import(file)) as Record<string, unknown>;
      const name = url.slice("/api/".length).replace(/\/7(?=\/|$)/g, "/[id]");
      fromFiles[name] = METHODS.filter((method) => typeof exported[method] === "function");
    }
    const fromTable = Object.fromEntries(Object.entries(API_ROUTES).map(([name, methods]) => [name, Object.keys(methods)]));
    expect(fromFiles).toEqual(fromTable);
  });

  it.each(ROUTES.map(([url]) => url))("the lean server answers %s itself", (url) => {
    const name = url.slice("/api/".length).replace(/\/7(?=\/|$)/g, "/[id]") as keyof typeof API_ROUTES;
    for (const method of Object.keys(API_ROUTES[name])) expect(matchApiRoute(url, method)).not.toBeNull();
  });
});

describe("apiRoute", () => {
  const request: ApiRequest = {
    method: "GET",
    path: "/api/tasks",
    query: new URLSearchParams(),
    headers: {},
    protocol: "http:",
    readBody: async () => "",
  };

  it("keeps a synchronous handler synchronous", () => {
    vi.stubEnv("HSTS_MAX_AGE", "60");
    const res = apiRoute(() => emptyAnswer(204))(request, {});
    expect(res).not.toBeInstanceOf(Promise);
    expect((res as ApiAnswer).headers["strict-transport-security"]).toBe("max-age=60");
  });

  it("does not run the handler when HSTS_MAX_AGE is malformed", () => {
    vi.stubEnv("HSTS_MAX_AGE", "-1");
    const handler = vi.fn(() => emptyAnswer(200));
    expect((apiRoute(handler)(request, {}) as ApiAnswer).status).toBe(503);
    expect(handler).not.toHaveBeenCalled();
  });
});

describe("API answers are not compressed or cached", () => {
  it.each([
    ["jsonError", () => jsonError(401, "not_authenticated", "x")],
    ["apiJsonText", () => apiJsonText("[]", 200)],
  ])("%s says no-store, no-transform", (_name, make) => {
    expect(make().headers["cache-control"]).toBe("no-store, no-transform");
  });

  it("relay passes the backend's JSON text through unchanged", () => {
    const text = '{"id": 1,  "title": "b\\u00e4r"}'; // spacing and escapes a re-serialisation would change
    const res = relay({ status: 201, text });
    expect(res.status).toBe(201);
    expect(res.body).toBe(text);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.headers["cache-control"]).toBe("no-store, no-transform");
  });

  it("relay still refuses a body that is not JSON", () => {
    const res = relay({ status: 200, text: "<html>" });
    expect(res.status).toBe(502);
  });
});
