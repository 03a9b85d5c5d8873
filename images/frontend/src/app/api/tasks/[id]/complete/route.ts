import { nextRoute } from "@/lib/next-route";

// The handlers live in lib/api-routes.ts (the lean API server serves them in production).
export const dynamic = "force-dynamic";

export const PATCH = nextRoute("tasks/[id]/complete", "PATCH");
