import { redirect } from "next/navigation";

import Dashboard from "@/components/Dashboard";
import { currentSession } from "@/lib/server-session";

// The chat page is protected: without a session cookie it sends the visitor to /login.
export default async function Home() {
  const session = await currentSession();
  if (!session) redirect("/login");
  return <Dashboard email={session.email} />;
}
