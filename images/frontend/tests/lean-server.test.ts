// @vitest-environment node
/**
 * The production server (src/server/main.ts createServer) over real HTTP on an ephemeral port, with a
 * real loopback backend double: the proxied API answered by the lean handler with every header the API
 * answers carried under Next (security headers, HSTS, Cache-Control, cookies), a whole-body
 * Content-Length, and everything else handed on to Next (here a stand-in that says so).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

import { ResponseCookies } from "next/dist/compiled/@edge-runtime/cookies";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { serializeCookie } from "@/lib/cookies";
import { MAX_BODY_BYTES } from "@/lib/guard";
import { SECURITY_HEADERS } from "@/lib/security-headers";
import { SESSION_COOKIE, cookieOptions, encodeSession } from "@/lib/session";
import { createServer, keepAliveTimeout } from "@/server/main";

import { type BackendHandler, type StubBackend, startBackend } from "./backend-stub";

const USER = "0b5c7a4e-2f1d-4c3b-9a8e-6d7f1e2a3b4c";
const COOKIE = `${SESSION_COOKIE}=${encodeSession({ token: "tok-1", userId: USER, email: "ada@example.com" })}`;
const backendMock = vi.fn<BackendHandler>();
const toNext = vi.fn(async (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.writeHead(404, { "x-served-by": "next" });
  res.end("next");
});
let backend: StubBackend;
let server: http.Server;
let port: number;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function call(method: string, path: string, headers: Record<string, string> = {}, body?: string | string[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    request.on("error", reject);
    if (Array.isArray(body)) {
      for (const chunk of body) request.write(chunk); // no Content-Length: chunked
      request.end();
    } else {
      request.end(body);
    }
  });
}

beforeAll(async () => {
  backend = await startBackend(backendMock);
  server = createServer(toNext);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await backend.close();
});

beforeEach(() => {
  backendMock.mockReset();
  toNext.mockClear();
  vi.stubEnv("BACKEND_URL", backend.url);
  vi.spyOn(console, "error").mockImplementation(() => {});
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("dispatch", () => {
  it.each([
    ["GET", "/api/healthz"],
    ["GET", "/api/auth/session"],
    ["POST", "/api/auth/logout"],
    ["GET", "/api/tasks"],
    ["GET", "/api/tasks/7"],
    ["GET", "/api/conversations/3"],
  ])("answers %s %s itself", async (method, path) => {
    const res = await call(method, path);
    expect(res.headers["x-served-by"]).toBeUndefined();
    expect(toNext).not.toHaveBeenCalled();
  });

  it.each([
    ["GET", "/"],
    ["GET", "/login"],
    ["GET", "/api/nothing"],
    ["GET", "/api/tasks/"],
    ["GET", "/api/tasks/7/other"],
    ["GET", "/api/taskslist"],
    ["OPTIONS", "/api/tasks"],
    ["HEAD", "/api/tasks"],
    ["PATCH", "/api/tasks"],
    ["GET", "/api/chat"],
    ["GET", "/_next/static/chunks/x.js"],
  ])("hands %s %s to Next (its 404, 405, OPTIONS, HEAD and redirects)", async (method, path) => {
    const res = await call(method, path);
    expect(res.status).toBe(404);
    expect(res.headers["x-served-by"]).toBe("next");
    expect(toNext).toHaveBeenCalledOnce();
  });

  it("a failure on Next's side answers 500", async () => {
    toNext.mockRejectedValueOnce(new Error("boom"));
    expect((await call("GET", "/login")).status).toBe(500);
  });
});

describe("the API's answers", () => {
  it("carry the security headers, no-store, and a Content-Length instead of chunks", async () => {
    backendMock.mockResolvedValue(new Response('[{"id": 1}]', { status: 200, headers: { "content-type": "application/json" } }));
    const res = await call("GET", "/api/tasks?status=pending", { cookie: COOKIE, "accept-encoding": "gzip" });
    expect(res.status).toBe(200);
    expect(res.body).toBe('[{"id": 1}]');
    for (const { key, value } of SECURITY_HEADERS) expect(res.headers[key.toLowerCase()]).toBe(value);
    expect(res.headers["cache-control"]).toBe("no-store, no-transform");
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.headers["content-length"]).toBe(String(Buffer.byteLength(res.body)));
    expect(res.headers["transfer-encoding"]).toBeUndefined();
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.headers["x-powered-by"]).toBeUndefined();
    expect(String(backendMock.mock.calls[0][0])).toBe(`${backend.url}/api/${USER}/tasks?status=pending`);
  });

  it("carry HSTS_MAX_AGE's header, healthz included", async () => {
    vi.stubEnv("HSTS_MAX_AGE", "31536000");
    for (const path of ["/api/healthz", "/api/auth/session"]) {
      expect((await call("GET", path)).headers["strict-transport-security"]).toBe("max-age=31536000");
    }
    vi.stubEnv("HSTS_MAX_AGE", "0");
    expect((await call("GET", "/api/healthz")).headers["strict-transport-security"]).toBeUndefined();
  });

  it("healthz keeps its own Cache-Control and never calls the backend", async () => {
    vi.stubEnv("BACKEND_URL", "");
    const res = await call("GET", "/api/healthz");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: "ok" });
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(backendMock).not.toHaveBeenCalled();
  });

  it("sign-in sets the session cookie; X-Forwarded-Proto https makes it Secure", async () => {
    backendMock.mockImplementation(
      async () => new Response(JSON.stringify({ access_token: "jwt-token", user_id: USER }), { status: 200, headers: { "content-type": "application/json" } }),
    );
    const body = JSON.stringify({ email: "Ada@Example.com", password: "pw" });
    const plain = await call("POST", "/api/auth/login", { "content-type": "application/json" }, body);
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.body)).toEqual({ user_id: USER, email: "ada@example.com" });
    const [cookie] = plain.headers["set-cookie"] ?? [];
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[^;]+; Path=/; HttpOnly; SameSite=lax$`));
    const https = await call("POST", "/api/auth/login", { "content-type": "application/json", "x-forwarded-proto": "https" }, body);
    expect(https.headers["set-cookie"]?.[0]).toMatch(/; Secure; HttpOnly; SameSite=lax$/);
  });

  it("log out answers 204 with no body and the cookie expired", async () => {
    const res = await call("POST", "/api/auth/logout", { cookie: COOKIE });
    expect(res.status).toBe(204);
    expect(res.body).toBe("");
    expect(res.headers["set-cookie"]).toEqual([`${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=lax`]);
  });

  it("a cross-site unsafe request is refused before anything is forwarded", async () => {
    const res = await call("POST", "/api/tasks", { cookie: COOKIE, "content-type": "application/json", origin: "http://evil.test", host: "frontend.test" }, "{}");
    expect(res.status).toBe(403);
    expect(backendMock).not.toHaveBeenCalled();
  });

  it("the same origin passes", async () => {
    backendMock.mockResolvedValue(new Response('{"id": 2}', { status: 201, headers: { "content-type": "application/json" } }));
    const res = await call("POST", "/api/tasks", { cookie: COOKIE, "content-type": "application/json", origin: "http://frontend.test", host: "frontend.test" }, '{"title":"t"}');
    expect(res.status).toBe(201);
    expect(backendMock.mock.calls[0][1].body).toBe('{"title":"t"}');
  });

  it("a chunked body over the limit is refused with 413 and the connection closed, nothing forwarded", async () => {
    const chunk = "x".repeat(16 * 1024);
    const chunks = Array.from({ length: Math.ceil(MAX_BODY_BYTES / chunk.length) + 2 }, () => chunk);
    const res = await call("POST", "/api/tasks", { cookie: COOKIE, "content-type": "application/json" }, chunks);
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe("close");
    expect(backendMock).not.toHaveBeenCalled();
  });

  it("a body within the limit is forwarded whole", async () => {
    backendMock.mockResolvedValue(new Response("{}", { status: 200, headers: { "content-type": "application/json" } }));
    const title = "t".repeat(MAX_BODY_BYTES - 20);
    const body = JSON.stringify({ title });
    const res = await call("POST", "/api/chat", { cookie: COOKIE, "content-type": "application/json" }, [body.slice(0, 1000), body.slice(1000)]);
    expect(res.status).toBe(200);
    expect(backendMock.mock.calls[0][1].body).toBe(body);
  });
});

describe("Set-Cookie", () => {
  it.each([
    ["a session", "abc", cookieOptions(false, 3600)],
    ["a Secure session", "a b;c", cookieOptions(true, 60)],
    ["a browser-session cookie", "abc", cookieOptions(false)],
    ["an expired cookie", "", { ...cookieOptions(true), maxAge: 0 }],
  ])("%s is written as Next's ResponseCookies writes it", (_name, value, options) => {
    const now = Date.now();
    vi.useFakeTimers({ now });
    try {
      const cookies = new ResponseCookies(new Headers());
      cookies.set(SESSION_COOKIE, value, options);
      expect(serializeCookie({ name: SESSION_COOKIE, value, options }, now)).toBe(cookies.toString());
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("KEEP_ALIVE_TIMEOUT", () => {
  it.each([
    ["65000", 65000],
    ["0", 0],
    ["", undefined],
    ["soon", undefined],
    ["-1", undefined],
  ])("%j gives %j, as Next's server.js read it", (raw, expected) => {
    expect(keepAliveTimeout(raw)).toBe(expected);
  });

  it("is the server's keep-alive timeout when given, Node's 5 s otherwise", () => {
    expect(createServer(toNext, 65000).keepAliveTimeout).toBe(65000);
    expect(createServer(toNext).keepAliveTimeout).toBe(5000);
  });
});
