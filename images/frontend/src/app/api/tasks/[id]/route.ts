import type { NextRequest } from "next/server";

import { forwardAuthed, jsonError, taskIdSegment } from "@/lib/proxy";
import { apiRoute } from "@/lib/http";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ id: string }> };

async function forward(request: NextRequest, context: Context, method: string, body: boolean) {
  const id = taskIdSegment((await context.params).id);
  if (id === null) return jsonError(404, "not_found", "No such task.");
  return forwardAuthed(request, method, `/tasks/${id}`, { body });
}

export const GET = apiRoute(async (request: NextRequest, context: Context) => {
  return forward(request, context, "GET", false);
});

/** PUT any of {title, description, completed}. */
export const PUT = apiRoute(async (request: NextRequest, context: Context) => {
  return forward(request, context, "PUT", true);
});

/** DELETE -> 204. */
export const DELETE = apiRoute(async (request: NextRequest, context: Context) => {
  return forward(request, context, "DELETE", false);
});
