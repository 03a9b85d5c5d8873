import type { NextRequest } from "next/server";

import { forwardAuthed, jsonError } from "@/lib/proxy";
import { apiRoute } from "@/lib/http";

export const dynamic = "force-dynamic";

const STATUSES = new Set(["all", "pending", "completed"]);

/** GET ?status=all|pending|completed -> the signed-in user's tasks. */
export const GET = apiRoute(async (request: NextRequest) => {
  const status = request.nextUrl.searchParams.get("status") ?? "all";
  if (!STATUSES.has(status)) {
    return jsonError(422, "invalid_status", "status must be one of all, pending, completed");
  }
  return forwardAuthed(request, "GET", "/tasks", { search: `?status=${status}` });
});

/** POST {title, description?} -> 201 task. */
export const POST = apiRoute(async (request: NextRequest) => {
  return forwardAuthed(request, "POST", "/tasks", { body: true });
});
