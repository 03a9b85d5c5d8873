import { NextResponse, type NextRequest } from "next/server";

import { MESSAGES, jsonError, sessionOf } from "@/lib/proxy";

export const dynamic = "force-dynamic";

/** GET: who is signed in ({user_id, email}), or 401. Never returns the token. */
export function GET(request: NextRequest) {
  const session = sessionOf(request);
  if (!session) return jsonError(401, "not_authenticated", MESSAGES.notAuthenticated);
  return NextResponse.json(
    { user_id: session.userId, email: session.email },
    { headers: { "cache-control": "no-store" } },
  );
}
