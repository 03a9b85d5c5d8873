"use client";

import { useRouter } from "next/navigation";
import { useCallback, useState } from "react";

import { api } from "@/lib/api";

import ChatPanel from "./ChatPanel";
import TaskList from "./TaskList";

export default function Dashboard({ email }: { email: string }) {
  const [refreshKey, setRefreshKey] = useState(0);
  const [leaving, setLeaving] = useState(false);
  const router = useRouter();
  const toLogin = useCallback(() => {
    router.replace("/login");
    router.refresh();
  }, [router]);

  const storageKey = `todo-conversation:${email}`;

  async function logout() {
    setLeaving(true);
    window.sessionStorage.removeItem(storageKey);
    try {
      await api.logout();
    } catch {
      // the cookie is cleared server-side; go to the login page either way
    }
    toLogin();
  }

  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Todo AI Chatbot</span>
        <span className="who">
          {email ? <span className="muted">{email}</span> : null}
          <button type="button" onClick={() => void logout()} disabled={leaving}>
            {leaving ? "Logging out…" : "Log out"}
          </button>
        </span>
      </header>
      <main className="layout">
        <ChatPanel storageKey={storageKey} onToolCalls={() => setRefreshKey((n) => n + 1)} onUnauthorized={toLogin} />
        <TaskList refreshKey={refreshKey} onUnauthorized={toLogin} />
      </main>
    </div>
  );
}
