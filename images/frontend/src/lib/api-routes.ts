/**
 * The proxied API's handlers and their paths, in one place, framework-neutral (lib/http.ts ApiRequest
 * in, ApiAnswer out). The lean API server (src/server/lean.ts) dispatches to them through
 * `matchApiRoute`; under `next dev` the route files in src/app/api/** adapt the same handlers
 * (lib/next-route.ts). A path/method pair not listed here is left to Next (its 404, 405, OPTIONS,
 * HEAD and trailing-slash redirects stay Next's own).
 */
import { ConfigError } from "./config";
import { guardRequest, refuseCrossSite } from "./guard";
import { type ApiAnswer, type ApiHandler, type ApiRequest, apiJson, apiRoute, emptyAnswer, jsonError } from "./http";
import {
  CHAT_TIMEOUT_MS,
  MESSAGES,
  callBackend,
  clearSession,
  clientAddress,
  forwardAuthed,
  log,
  relay,
  sessionCookieIsSecure,
  sessionOf,
  taskIdSegment,
} from "./proxy";
import { SESSION_COOKIE, cookieOptions, encodeSession, isUserId, tokenMaxAge } from "./session";

const STATUSES = new Set(["all", "pending", "completed"]);

/**
 * POST {email, password}. On success the backend's JWT goes into the httpOnly session cookie and the
 * browser gets only {user_id, email}; the token never reaches page scripts.
 */
async function login(request: ApiRequest): Promise<ApiAnswer> {
  const body = await guardRequest(request, { body: true });
  if (typeof body !== "string") return body;
  // Decided before the backend is asked: a malformed SESSION_COOKIE_SECURE refuses the sign-in
  // (503, the variable named in the log) instead of handing out a cookie of the wrong kind.
  let secure: boolean;
  try {
    secure = sessionCookieIsSecure(request);
  } catch (exc) {
    if (!(exc instanceof ConfigError)) throw exc;
    log("misconfigured", { reason: exc.message });
    return jsonError(503, "frontend_misconfigured", MESSAGES.misconfigured);
  }
  // The caller's address goes along: the backend's sign-in limits are keyed on it (issue 27).
  const relayed = relay(await callBackend({ method: "POST", path: "/api/auth/login", body, client: clientAddress(request) }));
  if (relayed.status !== 200) return relayed;
  const data = JSON.parse(relayed.body ?? "null") as { access_token?: unknown; user_id?: unknown } | null;
  if (typeof data?.access_token !== "string" || !isUserId(data.user_id)) {
    return jsonError(502, "backend_error", "The task service gave an unexpected answer.");
  }
  let email = "";
  try {
    const parsed = JSON.parse(body) as { email?: unknown };
    if (typeof parsed.email === "string") email = parsed.email.trim().toLowerCase();
  } catch {
    // the backend accepted it, so it was JSON; nothing to do
  }
  const userId = data.user_id;
  const out = apiJson({ user_id: userId, email });
  out.cookies.push({
    name: SESSION_COOKIE,
    value: encodeSession({ token: data.access_token, userId, email }),
    options: cookieOptions(secure, tokenMaxAge(data.access_token)),
  });
  return out;
}

/** POST: forget the session cookie. 204, or 403 from another site (a forced log out is a nuisance too). */
function logout(request: ApiRequest): ApiAnswer {
  return refuseCrossSite(request) ?? clearSession(emptyAnswer(204), request);
}

/** POST {email, password, name?} -> the backend's answer: 201 {id, email}, 409, 422 {detail: [...]}. */
async function register(request: ApiRequest): Promise<ApiAnswer> {
  const body = await guardRequest(request, { body: true });
  if (typeof body !== "string") return body;
  return relay(await callBackend({ method: "POST", path: "/api/auth/register", body, client: clientAddress(request) }));
}

/** GET: who is signed in ({user_id, email}), or 401. Never returns the token. */
function session(request: ApiRequest): ApiAnswer {
  const current = sessionOf(request);
  if (!current) return jsonError(401, "not_authenticated", MESSAGES.notAuthenticated);
  return apiJson({ user_id: current.userId, email: current.email });
}

/** A whole number in a query parameter, or null when it is absent; "bad" when it is not one. */
function wholeNumber(request: ApiRequest, name: string): string | null | "bad" {
  const raw = request.query.get(name);
  if (raw === null) return null;
  return /^[0-9]{1,10}$/.test(raw) ? raw : "bad";
}

/**
 * GET ?status=all|pending|completed[&limit=n][&after=id] -> a page of the signed-in user's tasks,
 * oldest first (the backend bounds the page: at most 500).
 */
function listTasks(request: ApiRequest): ApiAnswer | Promise<ApiAnswer> {
  const status = request.query.get("status") ?? "all";
  if (!STATUSES.has(status)) return jsonError(422, "invalid_status", "status must be one of all, pending, completed");
  let search = `?status=${status}`;
  for (const name of ["limit", "after"]) {
    const value = wholeNumber(request, name);
    if (value === "bad") return jsonError(422, `invalid_${name}`, `${name} must be a whole number`);
    if (value !== null) search += `&${name}=${value}`;
  }
  return forwardAuthed(request, "GET", "/tasks", { search });
}

/** A handler of /tasks/{id}...: a 404 for an id that is not a positive integer, else forwarded. */
function onTask(method: string, suffix: string, body: boolean): ApiHandler {
  return (request, params) => {
    const id = taskIdSegment(params.id ?? "");
    if (id === null) return jsonError(404, "not_found", "No such task.");
    return forwardAuthed(request, method, `/tasks/${id}${suffix}`, { body });
  };
}

/** GET -> the stored conversation {id, created_at, updated_at, messages: [...]}. */
function conversation(request: ApiRequest, params: Record<string, string>): ApiAnswer | Promise<ApiAnswer> {
  const id = taskIdSegment(params.id ?? "");
  if (id === null) return jsonError(404, "not_found", "No such conversation.");
  return forwardAuthed(request, "GET", `/conversations/${id}`);
}

/**
 * Liveness and readiness of the frontend: answers from this process alone and never calls the
 * backend, so a backend outage cannot get the frontend restarted. Not the proxied API: its
 * Cache-Control is plain no-store, and under Next its HSTS came from the Proxy (src/proxy.ts).
 */
function healthz(): ApiAnswer {
  return {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
    body: JSON.stringify({ status: "ok" }),
    cookies: [],
  };
}

type Methods = Partial<Record<"GET" | "POST" | "PUT" | "PATCH" | "DELETE", ApiHandler>>;

/** Every handler by route (the file-system route's name under src/app/api) and method, HSTS added. */
export const API_ROUTES = {
  "auth/login": { POST: apiRoute(login) },
  "auth/logout": { POST: apiRoute(logout) },
  "auth/register": { POST: apiRoute(register) },
  "auth/session": { GET: apiRoute(session) },
  tasks: {
    GET: apiRoute(listTasks),
    POST: apiRoute((request) => forwardAuthed(request, "POST", "/tasks", { body: true })),
  },
  "tasks/[id]": {
    GET: apiRoute(onTask("GET", "", false)),
    /** PUT any of {title, description, completed}. */
    PUT: apiRoute(onTask("PUT", "", true)),
    /** DELETE -> 204. */
    DELETE: apiRoute(onTask("DELETE", "", false)),
  },
  /** PATCH with {completed: true|false}, or no body to toggle. */
  "tasks/[id]/complete": { PATCH: apiRoute(onTask("PATCH", "/complete", true)) },
  "conversations/[id]": { GET: apiRoute(conversation) },
  /** POST {conversation_id?, message} -> {conversation_id, response, tool_calls}. */
  chat: { POST: apiRoute((request) => forwardAuthed(request, "POST", "/chat", { body: true, timeoutMs: CHAT_TIMEOUT_MS })) },
  healthz: { GET: apiRoute(healthz) },
} satisfies Record<string, Methods>;

export type ApiRouteName = keyof typeof API_ROUTES;

/**
 * The handler for a request path (undecoded, without the query) and method, with its [id] parameter
 * decoded as Next decodes it; null when the pair is not one of ours (Next answers it).
 */
export function matchApiRoute(path: string, method: string): { handler: ApiHandler; params: Record<string, string> } | null {
  if (!path.startsWith("/api/")) return null;
  const segments = path.slice(5).split("/");
  let name: string;
  const params: Record<string, string> = {};
  if (segments.length >= 2 && (segments[0] === "tasks" || segments[0] === "conversations") && segments.length <= 3) {
    if (segments.length === 3 && (segments[0] !== "tasks" || segments[2] !== "complete")) return null;
    if (segments[1] === "") return null;
    try {
      params.id = decodeURIComponent(segments[1]);
    } catch {
      return null;
    }
    name = `${segments[0]}/[id]${segments.length === 3 ? "/complete" : ""}`;
  } else {
    name = segments.join("/");
  }
  const methods: Methods | undefined = (API_ROUTES as Record<string, Methods>)[name];
  const handler = methods?.[method as keyof Methods];
  return handler ? { handler, params } : null;
}
