import type { Metadata } from "next";
import { redirect } from "next/navigation";

import LoginForm from "@/components/LoginForm";
import { currentSession } from "@/lib/server-session";

export const metadata: Metadata = { title: "Sign in · Todo AI Chatbot" };

export default async function LoginPage() {
  if (await currentSession()) redirect("/");
  return (
    <main className="auth">
      <p className="brand">Todo AI Chatbot</p>
      <LoginForm />
    </main>
  );
}
