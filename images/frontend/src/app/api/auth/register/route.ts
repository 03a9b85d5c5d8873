import { NextResponse, type NextRequest } from "next/server";

import { guardRequest } from "@/lib/guard";
import { callBackend, relay } from "@/lib/proxy";
import { apiRoute } from "@/lib/http";

export const dynamic = "force-dynamic";

/** POST {email, password, name?} -> the backend's answer: 201 {id, email}, 409, 422 {detail: [...]}. */
export const POST = apiRoute(async (request: NextRequest) => {
  const body = await guardRequest(request, { body: true });
  if (body instanceof NextResponse) return body;
  return relay(await callBackend({ method: "POST", path: "/api/auth/register", body }));
});
