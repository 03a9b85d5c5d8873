// @vitest-environment node
/**
 * Issue 27, the frontend's half: the backend keys its sign-in limits on the client this server saw,
 * so the proxy sends that address (X-Todo-Client) with PROXY_TOKEN (X-Todo-Proxy-Token), never a
 * client's own claim unless TRUSTED_PROXY_HOPS says a proxy in front appended it; a 429's Retry-After
 * reaches the browser; an answer larger than MAX_ANSWER_BYTES is refused, not buffered. Through the
 * production server (src/server/main.ts) over real HTTP, with a loopback backend double.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { MAX_ANSWER_BYTES } from "@/lib/backend-http";
import { checkRuntimeConfig } from "@/lib/config";
import { clientAddress } from "@/lib/proxy";
import { SESSION_COOKIE, encodeSession } from "@/lib/session";
import { createServer } from "@/server/main";

import { type BackendHandler, type StubBackend, startBackend } from "./backend-stub";

const TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef";
const USER = "0b5c7a4e-2f1d-4c3b-9a8e-6d7f1e2a3b4c";
const COOKIE = `${SESSION_COOKIE}=${encodeSession({ token: "tok-1", userId: USER, email: "ada@example.com" })}`;
const backendMock = vi.fn<BackendHandler>();
let backend: StubBackend;
let server: http.Server;
let port: number;

function call(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

const login = (headers: Record<string, string> = {}) =>
  call("POST", "/api/auth/login", { "content-type": "application/json", ...headers },
    JSON.stringify({ email: "ada@example.com", password: "wrong" }));

beforeAll(async () => {
  backend = await startBackend(backendMock);
  server = createServer(async (_req, res) => {
    res.writeHead(404);
    res.end();
  });
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
  backendMock.mockImplementation(async () => new Response(JSON.stringify({ detail: "invalid email or password" }), { status: 401 }));
  vi.stubEnv("BACKEND_URL", backend.url);
  vi.stubEnv("PROXY_TOKEN", TOKEN);
  vi.spyOn(console, "error").mockImplementation(() => {});
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("the caller's address", () => {
  it("is the connection's peer, sent with the proxy token on sign-in, sign-up and signed-in calls", async () => {
    await login();
    await call("POST", "/api/auth/register", { "content-type": "application/json" }, JSON.stringify({ email: "a@b.co" }));
    await call("GET", "/api/tasks", { cookie: COOKIE });
    for (const [, init] of backendMock.mock.calls) {
      expect(init.headers["x-todo-client"]).toBe("127.0.0.1");
      expect(init.headers["x-todo-proxy-token"]).toBe(TOKEN);
    }
    expect(backendMock).toHaveBeenCalledTimes(3);
  });

  it("ignores a client's own X-Forwarded-For unless TRUSTED_PROXY_HOPS trusts a proxy in front", async () => {
    await login({ "x-forwarded-for": "203.0.113.9", "x-todo-client": "203.0.113.10" });
    expect(backendMock.mock.calls[0][1].headers["x-todo-client"]).toBe("127.0.0.1");
    vi.stubEnv("TRUSTED_PROXY_HOPS", "1");
    // The ingress controller appended the address it saw; what the client put before it is not believed.
    await login({ "x-forwarded-for": "198.51.100.1, 203.0.113.9" });
    expect(backendMock.mock.calls[1][1].headers["x-todo-client"]).toBe("203.0.113.9");
  });

  it("is not sent without PROXY_TOKEN (the backend would not believe it)", async () => {
    vi.stubEnv("PROXY_TOKEN", "");
    await login();
    expect(backendMock.mock.calls[0][1].headers["x-todo-client"]).toBeUndefined();
    expect(backendMock.mock.calls[0][1].headers["x-todo-proxy-token"]).toBeUndefined();
  });

  it("clientAddress counts trusted hops from the end of X-Forwarded-For", () => {
    const request = { headers: { "x-forwarded-for": "1.1.1.1, 2.2.2.2, 3.3.3.3" }, peerAddress: "10.0.0.9" };
    const of = (hops: number) => clientAddress(request as never, hops);
    expect([of(0), of(1), of(2), of(3), of(4)]).toEqual(["10.0.0.9", "3.3.3.3", "2.2.2.2", "1.1.1.1", "10.0.0.9"]);
  });

  it("a short PROXY_TOKEN or a malformed TRUSTED_PROXY_HOPS stops start-up naming it", () => {
    const env = { BACKEND_URL: "http://b:8000" };
    expect(() => checkRuntimeConfig({ ...env, PROXY_TOKEN: "short" })).toThrow(/PROXY_TOKEN is too short/);
    expect(() => checkRuntimeConfig({ ...env, TRUSTED_PROXY_HOPS: "one" })).toThrow(/TRUSTED_PROXY_HOPS is malformed/);
    expect(() => checkRuntimeConfig({ ...env, PROXY_TOKEN: TOKEN, TRUSTED_PROXY_HOPS: "1" })).not.toThrow();
  });
});

describe("answers", () => {
  it("a 429 keeps its Retry-After", async () => {
    backendMock.mockImplementation(async () => new Response(JSON.stringify({ detail: "too many attempts: try again in 8 seconds" }),
      { status: 429, headers: { "retry-after": "8" } }));
    const res = await login();
    expect(res.status).toBe(429);
    expect(res.headers["retry-after"]).toBe("8");
    expect(JSON.parse(res.body)).toEqual({ detail: "too many attempts: try again in 8 seconds" });
  });

  it("an answer above MAX_ANSWER_BYTES is a 502 in plain words, not buffered whole", async () => {
    backendMock.mockImplementation(async () => new Response(`[${'"x",'.repeat(MAX_ANSWER_BYTES / 4)}"x"]`, { status: 200 }));
    const res = await call("GET", "/api/tasks", { cookie: COOKIE });
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ error: "backend_answer_too_large" });
    backendMock.mockImplementation(async () => new Response("[]", { status: 200 }));
    expect((await call("GET", "/api/tasks", { cookie: COOKIE })).status).toBe(200); // the server is fine
  });

  it("passes a page's limit and after through, and refuses ones that are not numbers", async () => {
    backendMock.mockImplementation(async () => new Response("[]", { status: 200 }));
    await call("GET", "/api/tasks?status=pending&limit=50&after=120", { cookie: COOKIE });
    expect(backendMock.mock.calls[0][0]).toMatch(/\/tasks\?status=pending&limit=50&after=120$/);
    const bad = await call("GET", "/api/tasks?limit=-1", { cookie: COOKIE });
    expect(bad.status).toBe(422);
  });
});
