import type { NextRequest } from "next/server";

import { forwardAuthed, jsonError, taskIdSegment } from "@/lib/proxy";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ id: string }> };

async function forward(request: NextRequest, context: Context, method: string, body: boolean) {
  const id = taskIdSegment((await context.params).id);
  if (id === null) return jsonError(404, "not_found", "No such task.");
  return forwardAuthed(request, method, `/tasks/${id}`, { body });
}

export async function GET(request: NextRequest, context: Context) {
  return forward(request, context, "GET", false);
}

/** PUT any of {title, description, completed}. */
export async function PUT(request: NextRequest, context: Context) {
  return forward(request, context, "PUT", true);
}

/** DELETE -> 204. */
export async function DELETE(request: NextRequest, context: Context) {
  return forward(request, context, "DELETE", false);
}
