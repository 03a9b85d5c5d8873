/**
 * Browser-side calls. The browser only ever talks to its own origin (/api/...);
 * the route handlers forward to the backend.
 */

export interface Task {
  id: number;
  title: string;
  description: string | null;
  completed: boolean;
  created_at: string;
  updated_at: string;
}

export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
  result: unknown;
}

export interface StoredMessage {
  id: number;
  role: "user" | "assistant";
  content: string;
  tool_calls: ToolCall[] | null;
  created_at: string;
}

export interface Conversation {
  id: number;
  messages: StoredMessage[];
}

export interface ChatReply {
  conversation_id: number;
  response: string;
  tool_calls: ToolCall[];
}

/** A failed call, described for people: a general message and, for forms, per-field messages. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly fieldErrors: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const STATUS_MESSAGES: Record<number, string> = {
  401: "Your session has ended. Please sign in again.",
  404: "That item no longer exists.",
  409: "That already exists.",
  502: "The task service ran into a problem. Please try again in a moment.",
  503: "The task service cannot be reached right now. Please try again in a moment.",
  504: "The task service did not answer in time. Please try again in a moment.",
};

interface ValidationItem {
  loc?: unknown[];
  msg?: string;
}

function fieldName(loc: unknown[] | undefined): string | null {
  if (!Array.isArray(loc) || loc.length === 0) return null;
  const last = loc[loc.length - 1];
  return typeof last === "string" && last !== "body" ? last : null;
}

function cleanMsg(msg: string): string {
  // Pydantic prefixes custom messages with "Value error, "; people do not need it.
  return msg.replace(/^Value error, /, "");
}

/** Build an ApiError from a response status and its (parsed) JSON body. */
export function describeError(status: number, body: unknown): ApiError {
  const fields: Record<string, string> = {};
  let message: string | null = null;
  if (body && typeof body === "object") {
    const b = body as { message?: unknown; detail?: unknown };
    if (typeof b.message === "string") message = b.message;
    if (typeof b.detail === "string") message = b.detail;
    if (Array.isArray(b.detail)) {
      const general: string[] = [];
      for (const item of b.detail as ValidationItem[]) {
        const msg = cleanMsg(String(item?.msg ?? "is invalid"));
        const name = fieldName(item?.loc);
        if (name && !(name in fields)) fields[name] = msg;
        else if (!name) general.push(msg);
      }
      message = general.length > 0 ? general.join(" ") : "Please correct the highlighted fields.";
    }
  }
  if (status >= 500 && STATUS_MESSAGES[status]) {
    message = message ?? STATUS_MESSAGES[status];
  }
  return new ApiError(message ?? STATUS_MESSAGES[status] ?? `Request failed (HTTP ${status}).`, status, fields);
}

export const NETWORK_MESSAGE = "The web app cannot be reached. Check your connection and try again.";

/** fetch a same-origin JSON endpoint; resolves with the parsed body or rejects with an ApiError. */
export async function apiFetch<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: init.method ?? "GET",
      headers: init.body !== undefined ? { "content-type": "application/json" } : undefined,
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(NETWORK_MESSAGE, 0);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) throw describeError(response.status, data);
  return data as T;
}

export const api = {
  register: (email: string, password: string, name?: string) =>
    apiFetch<{ id: string; email: string }>("/api/auth/register", {
      method: "POST",
      body: name ? { email, password, name } : { email, password },
    }),
  login: (email: string, password: string) =>
    apiFetch<{ user_id: string; email: string }>("/api/auth/login", { method: "POST", body: { email, password } }),
  logout: () => apiFetch<null>("/api/auth/logout", { method: "POST" }),
  tasks: (status: "all" | "pending" | "completed" = "all") => apiFetch<Task[]>(`/api/tasks?status=${status}`),
  setCompleted: (id: number, completed: boolean) =>
    apiFetch<Task>(`/api/tasks/${id}/complete`, { method: "PATCH", body: { completed } }),
  deleteTask: (id: number) => apiFetch<null>(`/api/tasks/${id}`, { method: "DELETE" }),
  conversation: (id: number) => apiFetch<Conversation>(`/api/conversations/${id}`),
  chat: (message: string, conversationId: number | null) =>
    apiFetch<ChatReply>("/api/chat", {
      method: "POST",
      body: conversationId ? { conversation_id: conversationId, message } : { message },
    }),
};
