import type { NextRequest } from "next/server";

import { forwardAuthed, jsonError, taskIdSegment } from "@/lib/proxy";
import { apiRoute } from "@/lib/http";

export const dynamic = "force-dynamic";

/** GET -> the stored conversation {id, created_at, updated_at, messages: [{id, role, content, tool_calls, created_at}]}. */
export const GET = apiRoute(async (request: NextRequest, context: { params: Promise<{ id: string }> }) => {
  const id = taskIdSegment((await context.params).id);
  if (id === null) return jsonError(404, "not_found", "No such conversation.");
  return forwardAuthed(request, "GET", `/conversations/${id}`);
});
