// Liveness and readiness of the frontend: answers from this process alone and never
// calls the backend, so a backend outage cannot get the frontend restarted.
export const dynamic = "force-dynamic";

export function GET(): Response {
  return Response.json({ status: "ok" }, { headers: { "cache-control": "no-store" } });
}
