// @vitest-environment node
import { NextRequest } from "next/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { POST as chat } from "@/app/api/chat/route";
import { POST as login } from "@/app/api/auth/login/route";
import { POST as logout } from "@/app/api/auth/logout/route";
import { POST as register } from "@/app/api/auth/register/route";
import { GET as sessionRoute } from "@/app/api/auth/session/route";
import { GET as conversation } from "@/app/api/conversations/[id]/route";
import { GET as healthz } from "@/app/api/healthz/route";
import { PATCH as complete } from "@/app/api/tasks/[id]/complete/route";
import { DELETE as deleteTask } from "@/app/api/tasks/[id]/route";
import { GET as listTasks } from "@/app/api/tasks/route";
import { callBackend, relay } from "@/lib/proxy";
import { SESSION_COOKIE, decodeSession, encodeSession } from "@/lib/session";

import { type BackendHandler, type StubBackend, startBackend } from "./backend-stub";

const backendMock = vi.fn<BackendHandler>();
let backend: StubBackend;
let otherBackend: StubBackend;
const USER = "0b5c7a4e-2f1d-4c3b-9a8e-6d7f1e2a3b4c";
const COOKIE = `${SESSION_COOKIE}=${encodeSession({ token: "tok-1", userId: USER, email: "ada@example.com" })}`;

function req(path: string, init: { method?: string; body?: unknown; cookie?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.cookie) headers.cookie = init.cookie;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  return new NextRequest(`http://frontend.test${path}`, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function calledUrl(n = 0): string {
  return String(backendMock.mock.calls[n][0]);
}

function calledInit(n = 0): RequestInit {
  return backendMock.mock.calls[n][1] as RequestInit;
}

const params = (id: string) => ({ params: Promise.resolve({ id }) });

beforeAll(async () => {
  backend = await startBackend(backendMock);
  otherBackend = await startBackend(backendMock);
});

afterAll(async () => {
  await backend.close();
  await otherBackend.close();
});

beforeEach(() => {
  backendMock.mockReset();
  vi.stubEnv("BACKEND_URL", backend.url);
  vi.spyOn(console, "error").mockImplementation(() => {});
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("GET /api/healthz", () => {
  it("answers 200 without calling the backend, even with no BACKEND_URL", async () => {
    vi.stubEnv("BACKEND_URL", "");
    const res = await healthz(req("/api/healthz"));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(backendMock).not.toHaveBeenCalled();
  });
});

describe("login", () => {
  it("stores the token in an httpOnly SameSite=Lax cookie and hides it from the body", async () => {
    backendMock.mockResolvedValue(json(200, { access_token: "jwt-token", token_type: "bearer", user_id: USER }));
    const res = await login(req("/api/auth/login", { method: "POST", body: { email: "Ada@Example.com", password: "pw12345678" } }));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ user_id: USER, email: "ada@example.com" });
    expect(JSON.stringify(body)).not.toContain("jwt-token");
    expect(calledUrl()).toBe(`${backend.url}/api/auth/login`);
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=lax/i);
    expect(setCookie).not.toMatch(/Secure/i);
    const value = res.cookies.get(SESSION_COOKIE)?.value;
    expect(decodeSession(value)).toEqual({ token: "jwt-token", userId: USER, email: "ada@example.com" });
  });

  it("marks the cookie Secure behind an HTTPS proxy", async () => {
    backendMock.mockResolvedValue(json(200, { access_token: "t", token_type: "bearer", user_id: USER }));
    const res = await login(
      req("/api/auth/login", { method: "POST", body: { email: "a@b.cd", password: "x" }, headers: { "x-forwarded-proto": "https" } }),
    );
    expect(res.headers.get("set-cookie")).toMatch(/Secure/i);
  });

  describe("SESSION_COOKIE_SECURE", () => {
    const signIn = (headers: Record<string, string> = {}) => {
      backendMock.mockResolvedValue(json(200, { access_token: "t", token_type: "bearer", user_id: USER }));
      return login(req("/api/auth/login", { method: "POST", body: { email: "a@b.cd", password: "x" }, headers }));
    };

    it.each([
      ["auto", {}, false],
      ["auto", { "x-forwarded-proto": "https" }, true],
      ["", { "x-forwarded-proto": "https" }, true],
      ["true", {}, true],
      [" TRUE ", {}, true],
      ["false", { "x-forwarded-proto": "https" }, false],
    ])("%j with headers %j -> Secure %s", async (mode, headers, secure) => {
      vi.stubEnv("SESSION_COOKIE_SECURE", mode);
      const setCookie = (await signIn(headers)).headers.get("set-cookie") ?? "";
      expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
      expect(/;\s*Secure/i.test(setCookie)).toBe(secure);
    });

    it("is read at request time, not once", async () => {
      vi.stubEnv("SESSION_COOKIE_SECURE", "false");
      expect((await signIn()).headers.get("set-cookie")).not.toMatch(/Secure/i);
      vi.stubEnv("SESSION_COOKIE_SECURE", "true");
      expect((await signIn()).headers.get("set-cookie")).toMatch(/Secure/i);
    });

    it("a malformed value refuses the sign-in with 503 and one log line naming the variable", async () => {
      vi.stubEnv("SESSION_COOKIE_SECURE", "yes");
      const res = await signIn();
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: "frontend_misconfigured" });
      expect(res.headers.get("set-cookie")).toBeNull();
      expect(backendMock).not.toHaveBeenCalled();
      const logged = vi.mocked(console.error).mock.calls.map((c) => String(c[0]));
      expect(logged.some((line) => line.includes("SESSION_COOKIE_SECURE is malformed") && !line.includes("\n"))).toBe(true);
    });

    it("log out clears the cookie with the same Secure flag", async () => {
      vi.stubEnv("SESSION_COOKIE_SECURE", "true");
      const res = await logout(req("/api/auth/logout", { method: "POST", cookie: COOKIE }));
      expect(res.headers.get("set-cookie")).toMatch(/Secure/i);
    });
  });

  it("relays 401 without setting a cookie", async () => {
    backendMock.mockResolvedValue(json(401, { detail: "invalid email or password" }));
    const res = await login(req("/api/auth/login", { method: "POST", body: { email: "a@b.cd", password: "x" } }));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ detail: "invalid email or password" });
    expect(res.headers.get("set-cookie")).toBeNull();
  });
});

describe("register", () => {
  it("relays 201, 409 and 422 with the backend's body", async () => {
    backendMock.mockResolvedValueOnce(json(201, { id: "1", email: "a@b.cd" }));
    let res = await register(req("/api/auth/register", { method: "POST", body: { email: "a@b.cd", password: "longenough" } }));
    expect(res.status).toBe(201);
    expect(JSON.parse(String(calledInit().body))).toEqual({ email: "a@b.cd", password: "longenough" });

    backendMock.mockResolvedValueOnce(json(409, { detail: "email already registered" }));
    res = await register(req("/api/auth/register", { method: "POST", body: { email: "a@b.cd", password: "longenough" } }));
    expect(res.status).toBe(409);

    const detail = [{ loc: ["body", "password"], msg: "too short", type: "string_too_short" }];
    backendMock.mockResolvedValueOnce(json(422, { detail }));
    res = await register(req("/api/auth/register", { method: "POST", body: { email: "a@b.cd", password: "x" } }));
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({ detail });
  });
});

describe("authenticated forwarding", () => {
  it("refuses without a session and never calls the backend", async () => {
    const res = await listTasks(req("/api/tasks"));
    expect(res.status).toBe(401);
    expect(backendMock).not.toHaveBeenCalled();
  });

  it("forwards to /api/{user_id}/tasks with the bearer token from the cookie", async () => {
    backendMock.mockResolvedValue(json(200, []));
    const res = await listTasks(req("/api/tasks?status=pending", { cookie: COOKIE }));
    expect(res.status).toBe(200);
    expect(calledUrl()).toBe(`${backend.url}/api/${USER}/tasks?status=pending`);
    expect((calledInit().headers as Record<string, string>).authorization).toBe("Bearer tok-1");
  });

  it("rejects an unknown status filter", async () => {
    const res = await listTasks(req("/api/tasks?status=everything", { cookie: COOKIE }));
    expect(res.status).toBe(422);
    expect(backendMock).not.toHaveBeenCalled();
  });

  it("reads BACKEND_URL at request time", async () => {
    backendMock.mockImplementation(async () => json(200, []));
    await listTasks(req("/api/tasks", { cookie: COOKIE }));
    vi.stubEnv("BACKEND_URL", `${otherBackend.url}/`);
    await listTasks(req("/api/tasks", { cookie: COOKIE }));
    expect(calledUrl(0)).toBe(`${backend.url}/api/${USER}/tasks?status=all`);
    expect(calledUrl(1)).toBe(`${otherBackend.url}/api/${USER}/tasks?status=all`);
  });

  it("forwards chat, complete and delete", async () => {
    backendMock.mockResolvedValueOnce(json(200, { conversation_id: 3, response: "Added", tool_calls: [] }));
    const c = await chat(req("/api/chat", { method: "POST", body: { message: "hi" }, cookie: COOKIE }));
    expect(c.status).toBe(200);
    expect(calledUrl(0)).toBe(`${backend.url}/api/${USER}/chat`);
    expect(JSON.parse(String(calledInit(0).body))).toEqual({ message: "hi" });

    backendMock.mockResolvedValueOnce(json(200, { id: 5, completed: true }));
    const p = await complete(req("/api/tasks/5/complete", { method: "PATCH", body: { completed: true }, cookie: COOKIE }), params("5"));
    expect(p.status).toBe(200);
    expect(calledUrl(1)).toBe(`${backend.url}/api/${USER}/tasks/5/complete`);
    expect(calledInit(1).method).toBe("PATCH");

    backendMock.mockResolvedValueOnce(new Response(null, { status: 204 }));
    const d = await deleteTask(req("/api/tasks/5", { method: "DELETE", cookie: COOKIE }), params("5"));
    expect(d.status).toBe(204);
    expect(calledInit(2).method).toBe("DELETE");
  });

  it("forwards a stored conversation by id", async () => {
    backendMock.mockResolvedValue(json(200, { id: 3, messages: [] }));
    const res = await conversation(req("/api/conversations/3", { cookie: COOKIE }), params("3"));
    expect(res.status).toBe(200);
    expect(calledUrl()).toBe(`${backend.url}/api/${USER}/conversations/3`);
  });

  it("refuses a task id that is not a number without calling the backend", async () => {
    const res = await deleteTask(req("/api/tasks/..%2F..%2Fauth", { method: "DELETE", cookie: COOKIE }), params("../../auth"));
    expect(res.status).toBe(404);
    expect(backendMock).not.toHaveBeenCalled();
  });

  it("clears the cookie when the backend says the token is no longer valid", async () => {
    backendMock.mockResolvedValue(json(401, { detail: "token expired" }));
    const res = await listTasks(req("/api/tasks", { cookie: COOKIE }));
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie")).toMatch(new RegExp(`${SESSION_COOKIE}=;.*Max-Age=0`, "i"));
  });
});

describe("backend failures", () => {
  it("answers 503 JSON in plain words when the backend is unreachable", async () => {
    backendMock.mockRejectedValue(new Error("gone")); // the connection closes without an answer
    const res = await listTasks(req("/api/tasks", { cookie: COOKIE }));
    expect(res.status).toBe(503);
    const body = await res.json();
    expect(body).toEqual({ error: "backend_unavailable", message: expect.stringMatching(/cannot be reached/) });
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|at .*\.ts|TypeError/);
  });

  // The stub backend closes the connection without an answer when its handler rejects: what the
  // proxy meets on a pooled connection to a backend pod that has just gone away.
  const socketClosed = () => new Error("connection closed");

  it("retries a GET once on a new connection when the pooled one was closed (rolling update)", async () => {
    backendMock.mockRejectedValueOnce(socketClosed()).mockResolvedValueOnce(json(200, [{ id: 1 }]));
    const res = await listTasks(req("/api/tasks", { cookie: COOKIE }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([{ id: 1 }]);
    expect(backendMock).toHaveBeenCalledTimes(2);
  });

  it("gives up after one retry with the usual 503", async () => {
    backendMock.mockRejectedValue(socketClosed());
    const res = await listTasks(req("/api/tasks", { cookie: COOKIE }));
    expect(res.status).toBe(503);
    expect(backendMock).toHaveBeenCalledTimes(2);
  });

  it("never retries a POST, which may have reached the backend", async () => {
    backendMock.mockRejectedValue(socketClosed());
    const res = await chat(req("/api/chat", { method: "POST", body: { message: "hi" }, cookie: COOKIE }));
    expect(res.status).toBe(503);
    expect(backendMock).toHaveBeenCalledTimes(1);
  });

  it("does not retry a timeout", async () => {
    backendMock.mockImplementation(() => new Promise<Response>(() => {})); // never answers
    const res = relay(await callBackend({ method: "GET", path: "/api/x/tasks", timeoutMs: 200 }));
    expect(res.status).toBe(503);
    expect(backendMock).toHaveBeenCalledTimes(1);
    const logged = vi.mocked(console.error).mock.calls.map((c) => String(c[0]));
    expect(logged.some((line) => line.includes("backend_unreachable") && line.includes("TimeoutError"))).toBe(true);
  });

  it("answers 503 when nothing listens at BACKEND_URL (connection refused, retried once)", async () => {
    const gone = await startBackend(backendMock);
    await gone.close();
    vi.stubEnv("BACKEND_URL", gone.url);
    const res = await listTasks(req("/api/tasks", { cookie: COOKIE }));
    expect(res.status).toBe(503);
    const logged = vi.mocked(console.error).mock.calls.map((c) => String(c[0]));
    expect(logged.filter((line) => line.includes("ECONNREFUSED"))).toHaveLength(2); // the retry, then the 503
  });

  it("answers 502 JSON when the backend answers 5xx, without its body", async () => {
    backendMock.mockResolvedValue(new Response("Traceback (most recent call last): boom", { status: 500 }));
    const res = await chat(req("/api/chat", { method: "POST", body: { message: "hi" }, cookie: COOKIE }));
    expect(res.status).toBe(502);
    const body = await res.json();
    expect(body.error).toBe("backend_error");
    expect(JSON.stringify(body)).not.toContain("Traceback");
  });

  it("answers 503 when BACKEND_URL has gone bad, naming no internals", async () => {
    vi.stubEnv("BACKEND_URL", "nonsense");
    const res = await register(req("/api/auth/register", { method: "POST", body: {} }));
    expect(res.status).toBe(503);
    expect((await res.json()).error).toBe("frontend_misconfigured");
    expect(backendMock).not.toHaveBeenCalled();
  });
});

describe("session and logout", () => {
  it("reports who is signed in without the token", async () => {
    const res = await sessionRoute(req("/api/auth/session", { cookie: COOKIE }));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ user_id: USER, email: "ada@example.com" });
    expect((await sessionRoute(req("/api/auth/session"))).status).toBe(401);
  });

  it("logout expires the cookie", async () => {
    const res = await logout(req("/api/auth/logout", { method: "POST", cookie: COOKIE }));
    expect(res.status).toBe(204);
    expect(res.headers.get("set-cookie")).toMatch(/Max-Age=0/i);
  });
});
