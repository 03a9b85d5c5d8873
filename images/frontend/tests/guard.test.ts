// @vitest-environment node
/**
 * The shared guard of the mutating /api routes (src/lib/guard.ts): CSRF (Origin, Sec-Fetch-Site),
 * JSON only, 64 KiB bodies; and the session's user id format (security review, issue 16).
 */
import { NextRequest } from "next/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { POST as chat } from "@/app/api/chat/route";
import { POST as login } from "@/app/api/auth/login/route";
import { POST as logout } from "@/app/api/auth/logout/route";
import { POST as register } from "@/app/api/auth/register/route";
import { PATCH as complete } from "@/app/api/tasks/[id]/complete/route";
import { DELETE as deleteTask } from "@/app/api/tasks/[id]/route";
import { GET as listTasks, POST as createTask } from "@/app/api/tasks/route";
import { MAX_BODY_BYTES } from "@/lib/guard";
import { SESSION_COOKIE, encodeSession } from "@/lib/session";

import { type BackendHandler, type StubBackend, startBackend } from "./backend-stub";

const backendMock = vi.fn<BackendHandler>();
let backend: StubBackend;
const USER = "0b5c7a4e-2f1d-4c3b-9a8e-6d7f1e2a3b4c";
const COOKIE = `${SESSION_COOKIE}=${encodeSession({ token: "tok-1", userId: USER, email: "ada@example.com" })}`;
const params = (id: string) => ({ params: Promise.resolve({ id }) });

function req(
  path: string,
  init: { method?: string; body?: BodyInit; headers?: Record<string, string>; cookie?: boolean } = {},
) {
  const headers: Record<string, string> = { host: "frontend.test", ...(init.headers ?? {}) };
  if (init.cookie !== false) headers.cookie = COOKIE;
  return new NextRequest(`http://frontend.test${path}`, {
    method: init.method ?? "POST",
    headers,
    body: init.body,
    // a ReadableStream body (chunked, no length) needs this in Node's fetch
    ...(init.body instanceof ReadableStream ? { duplex: "half" } : {}),
  } as ConstructorParameters<typeof NextRequest>[1]);
}

const JSON_TYPE = { "content-type": "application/json" };

beforeAll(async () => {
  backend = await startBackend(backendMock);
});

afterAll(async () => {
  await backend.close();
});

beforeEach(() => {
  backendMock.mockReset();
  backendMock.mockImplementation(async () => new Response("{}", { status: 200, headers: JSON_TYPE }));
  vi.stubEnv("BACKEND_URL", backend.url);
  vi.spyOn(console, "error").mockImplementation(() => {});
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

function each(headers: Record<string, string>): [string, () => Promise<Response> | Response][] {
  const body = JSON.stringify({ email: "a@b.cd", password: "long enough", message: "hi", title: "t" });
  return [
    ["login", () => login(req("/api/auth/login", { body, headers: { ...JSON_TYPE, ...headers }, cookie: false }))],
    ["register", () => register(req("/api/auth/register", { body, headers: { ...JSON_TYPE, ...headers }, cookie: false }))],
    ["logout", () => logout(req("/api/auth/logout", { headers }))],
    ["chat", () => chat(req("/api/chat", { body, headers: { ...JSON_TYPE, ...headers } }))],
    ["create task", () => createTask(req("/api/tasks", { body, headers: { ...JSON_TYPE, ...headers } }))],
    ["complete", () => complete(req("/api/tasks/5/complete", { method: "PATCH", headers }), params("5"))],
    ["delete", () => deleteTask(req("/api/tasks/5", { method: "DELETE", headers }), params("5"))],
  ];
}

describe("CSRF", () => {
  it.each(each({ "sec-fetch-site": "cross-site" }))("%s: Sec-Fetch-Site cross-site is 403", async (_name, call) => {
    const res = await call();
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: "cross_site_request", message: "Cross-site requests are not allowed." });
    expect(backendMock).not.toHaveBeenCalled();
  });

  it.each(each({ origin: "https://evil.example" }))("%s: a foreign Origin is 403", async (_name, call) => {
    expect((await call()).status).toBe(403);
    expect(backendMock).not.toHaveBeenCalled();
  });

  it.each(each({ origin: "null" }))("%s: Origin null is 403", async (_name, call) => {
    expect((await call()).status).toBe(403);
  });

  it.each(each({ origin: "http://frontend.test", "sec-fetch-site": "same-origin" }))(
    "%s: the app's own origin passes",
    async (_name, call) => {
      expect((await call()).status).not.toBe(403);
    },
  );

  it.each(each({}))("%s: no Origin and no Sec-Fetch-Site (not a browser page) passes", async (_name, call) => {
    expect((await call()).status).not.toBe(403);
  });

  it("accepts the origin a TLS-terminating proxy forwards (X-Forwarded-Host)", async () => {
    const res = await chat(
      req("/api/chat", {
        body: JSON.stringify({ message: "hi" }),
        headers: { ...JSON_TYPE, host: "10.0.0.7:3000", "x-forwarded-host": "todo.example.com", origin: "https://todo.example.com" },
      }),
    );
    expect(res.status).toBe(200);
  });

  it("never refuses a safe method", async () => {
    const res = await listTasks(req("/api/tasks", { method: "GET", headers: { "sec-fetch-site": "cross-site" } }));
    expect(res.status).toBe(200);
  });
});

describe("JSON only", () => {
  it.each(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""])(
    "a %j body is 415 on every JSON route",
    async (type) => {
      const body = '{"email":"attacker@example.com","password":"attacker password"}';
      const headers: Record<string, string> = type ? { "content-type": type } : {};
      for (const call of [
        () => login(req("/api/auth/login", { body, headers, cookie: false })),
        () => register(req("/api/auth/register", { body, headers, cookie: false })),
        () => chat(req("/api/chat", { body, headers })),
        () => createTask(req("/api/tasks", { body, headers })),
        () => complete(req("/api/tasks/5/complete", { method: "PATCH", body, headers }), params("5")),
      ]) {
        const res = await call();
        expect(res.status).toBe(415);
        expect((await res.json()).error).toBe("unsupported_media_type");
      }
      expect(backendMock).not.toHaveBeenCalled();
    },
  );

  it("accepts application/json with a charset, and no body without a type (PATCH toggles)", async () => {
    const res = await chat(req("/api/chat", { body: '{"message":"hi"}', headers: { "content-type": "application/json; charset=utf-8" } }));
    expect(res.status).toBe(200);
    const toggle = await complete(req("/api/tasks/5/complete", { method: "PATCH" }), params("5"));
    expect(toggle.status).toBe(200);
    expect(backendMock.mock.calls[1][1]?.body).toBeUndefined();
  });
});

describe("body size", () => {
  const big = JSON.stringify({ message: "x".repeat(MAX_BODY_BYTES) });

  it("the limit is 64 KiB", () => {
    expect(MAX_BODY_BYTES).toBe(65536);
  });

  it.each([
    ["login", () => login(req("/api/auth/login", { body: big, headers: JSON_TYPE, cookie: false }))],
    ["register", () => register(req("/api/auth/register", { body: big, headers: JSON_TYPE, cookie: false }))],
    ["chat", () => chat(req("/api/chat", { body: big, headers: JSON_TYPE }))],
    ["create task", () => createTask(req("/api/tasks", { body: big, headers: JSON_TYPE }))],
  ])("%s: a body above the limit is 413 JSON and is not forwarded", async (_name, call) => {
    const res = await call();
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: "payload_too_large", message: "The request is too large (at most 65536 bytes)." });
    expect(backendMock).not.toHaveBeenCalled();
  });

  it("a chunked body without a length is cut as soon as it passes the limit", async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new Uint8Array(16 * 1024).fill(0x78));
        if (pulled > 1000) controller.close(); // 16 MiB if read whole
      },
    });
    const res = await chat(req("/api/chat", { body: endless, headers: JSON_TYPE }));
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThan(10);
    expect(backendMock).not.toHaveBeenCalled();
  });

  it("a body at the limit is forwarded whole", async () => {
    const body = JSON.stringify({ message: "é".repeat(4000) }).padEnd(MAX_BODY_BYTES - 4000, " ");
    const res = await chat(req("/api/chat", { body, headers: JSON_TYPE }));
    expect(res.status).toBe(200);
    expect(backendMock.mock.calls[0][1]?.body).toBe(body);
  });
});

describe("the session's user id", () => {
  it.each(["../auth/login", "7", "0b5c7a4e-2f1d-4c3b-9a8e-6d7f1e2a3b4c/../../x"])(
    "a cookie with user id %j is no session: 401, cookie cleared, backend never called",
    async (userId) => {
      const cookie = `${SESSION_COOKIE}=${encodeSession({ token: "tok-1", userId, email: "" })}`;
      const res = await listTasks(
        new NextRequest("http://frontend.test/api/tasks", { headers: { cookie } }),
      );
      expect(res.status).toBe(401);
      expect(res.headers.get("set-cookie")).toMatch(/Max-Age=0/i);
      expect(backendMock).not.toHaveBeenCalled();
    },
  );

  it("login refuses a backend answer whose user id is not a UUID", async () => {
    backendMock.mockResolvedValue(
      new Response(JSON.stringify({ access_token: "t", token_type: "bearer", user_id: "../../x" }), { status: 200, headers: JSON_TYPE }),
    );
    const res = await login(req("/api/auth/login", { body: '{"email":"a@b.cd","password":"x"}', headers: JSON_TYPE, cookie: false }));
    expect(res.status).toBe(502);
    expect(res.headers.get("set-cookie")).toBeNull();
  });
});
