import type { NextRequest } from "next/server";

import { MESSAGES, jsonError, sessionOf } from "@/lib/proxy";
import { apiJson, apiRoute } from "@/lib/http";

export const dynamic = "force-dynamic";

/** GET: who is signed in ({user_id, email}), or 401. Never returns the token. */
export const GET = apiRoute((request: NextRequest) => {
  const session = sessionOf(request);
  if (!session) return jsonError(401, "not_authenticated", MESSAGES.notAuthenticated);
  return apiJson({ user_id: session.userId, email: session.email });
});
