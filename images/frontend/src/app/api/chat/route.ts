import type { NextRequest } from "next/server";

import { CHAT_TIMEOUT_MS, forwardAuthed } from "@/lib/proxy";
import { apiRoute } from "@/lib/http";

export const dynamic = "force-dynamic";

/** POST {conversation_id?, message} -> {conversation_id, response, tool_calls}. */
export const POST = apiRoute(async (request: NextRequest) => {
  return forwardAuthed(request, "POST", "/chat", { body: true, timeoutMs: CHAT_TIMEOUT_MS });
});
