import { cookies } from "next/headers";

import { SESSION_COOKIE, decodeSession, type Session } from "./session";

/** The session of the current page request (server components only). */
export async function currentSession(): Promise<Session | null> {
  return decodeSession((await cookies()).get(SESSION_COOKIE)?.value);
}
