import { NextResponse, type NextRequest } from "next/server";

import { refuseCrossSite } from "@/lib/guard";
import { clearSession } from "@/lib/proxy";
import { apiRoute } from "@/lib/http";

export const dynamic = "force-dynamic";

/** POST: forget the session cookie. 204, or 403 from another site (a forced log out is a nuisance too). */
export const POST = apiRoute((request: NextRequest) => {
  const crossSite = refuseCrossSite(request);
  if (crossSite) return crossSite;
  return clearSession(new NextResponse(null, { status: 204 }), request);
});
