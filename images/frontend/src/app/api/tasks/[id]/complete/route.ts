import type { NextRequest } from "next/server";

import { forwardAuthed, jsonError, taskIdSegment } from "@/lib/proxy";
import { apiRoute } from "@/lib/http";

export const dynamic = "force-dynamic";

/** PATCH with {completed: true|false}, or no body to toggle. */
export const PATCH = apiRoute(async (request: NextRequest, context: { params: Promise<{ id: string }> }) => {
  const id = taskIdSegment((await context.params).id);
  if (id === null) return jsonError(404, "not_found", "No such task.");
  return forwardAuthed(request, "PATCH", `/tasks/${id}/complete`, { body: true });
});
