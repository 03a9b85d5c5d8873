import { NextResponse, type NextRequest } from "next/server";

import { clearSession } from "@/lib/proxy";

export const dynamic = "force-dynamic";

/** POST: forget the session cookie. Always 204. */
export function POST(request: NextRequest) {
  return clearSession(new NextResponse(null, { status: 204 }), request);
}
