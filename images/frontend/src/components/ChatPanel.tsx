"use client";

import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from "react";

import { ApiError, api, type ToolCall } from "@/lib/api";

interface Message {
  id: number;
  role: "user" | "assistant";
  text: string;
  tools?: string[];
  failed?: boolean;
}

interface Props {
  /** Called after every turn in which the assistant used a tool (the task list may have changed). */
  onToolCalls?: (calls: ToolCall[]) => void;
  /** Called when the session has ended (HTTP 401). */
  onUnauthorized?: () => void;
  /** sessionStorage key that remembers the conversation across reloads of this tab (none: not remembered). */
  storageKey?: string;
}

const EXAMPLES = ["Add a task to buy milk", "Show me all my tasks", "Mark task 1 as complete"];

export default function ChatPanel({ onToolCalls, onUnauthorized, storageKey }: Props) {
  const [messages, setMessages] = useState<Message[]>([]);
  const [draft, setDraft] = useState("");
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<{ message: string; messageId: number; text: string } | null>(null);
  const [conversationId, setConversationId] = useState<number | null>(null);
  const nextId = useRef(1);
  const logRef = useRef<HTMLOListElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const id = useId();

  // After a reload, show the conversation this tab was having (kept server-side; the id is in sessionStorage).
  useEffect(() => {
    if (!storageKey) return;
    const saved = Number(window.sessionStorage.getItem(storageKey));
    if (!Number.isInteger(saved) || saved < 1) return;
    let cancelled = false;
    api
      .conversation(saved)
      .then((conversation) => {
        if (cancelled) return;
        const restored: Message[] = conversation.messages.map((m) => ({
          id: nextId.current++,
          role: m.role,
          text: m.content,
          tools: m.tool_calls?.map((c) => c.name),
        }));
        setConversationId(conversation.id);
        setMessages((list) => (list.length === 0 ? restored : list));
      })
      .catch(() => {
        // gone or unreadable: start a new conversation
        if (!cancelled) window.sessionStorage.removeItem(storageKey);
      });
    return () => {
      cancelled = true;
    };
  }, [storageKey]);

  useEffect(() => {
    const log = logRef.current;
    if (log) log.scrollTop = log.scrollHeight;
  }, [messages, sending]);

  async function send(text: string, retryOf?: number) {
    let messageId = retryOf;
    if (messageId === undefined) {
      messageId = nextId.current++;
      const mine: Message = { id: messageId, role: "user", text };
      setMessages((list) => [...list, mine]);
      setDraft("");
    } else {
      setMessages((list) => list.map((m) => (m.id === retryOf ? { ...m, failed: false } : m)));
    }
    setError(null);
    setSending(true);
    try {
      const reply = await api.chat(text, conversationId);
      setConversationId(reply.conversation_id);
      if (storageKey) window.sessionStorage.setItem(storageKey, String(reply.conversation_id));
      const answer: Message = {
        id: nextId.current++,
        role: "assistant",
        text: reply.response,
        tools: reply.tool_calls.map((c) => c.name),
      };
      setMessages((list) => [...list, answer]);
      if (reply.tool_calls.length > 0) onToolCalls?.(reply.tool_calls);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) {
        onUnauthorized?.();
        return;
      }
      const message = exc instanceof Error ? exc.message : "Something went wrong.";
      const failedId = messageId;
      setMessages((list) => list.map((m) => (m.id === failedId ? { ...m, failed: true } : m)));
      setError({ message, messageId: failedId, text });
    } finally {
      setSending(false);
      inputRef.current?.focus();
    }
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const text = draft.trim();
    if (!text || sending) return;
    void send(text);
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    // Enter sends, Shift+Enter makes a new line.
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      event.currentTarget.form?.requestSubmit();
    }
  }

  return (
    <section className="card chat" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Chat with your assistant</h2>
      <ol className="messages" ref={logRef} aria-live="polite" aria-label="Conversation" tabIndex={0}>
        {messages.length === 0 ? (
          <li className="empty muted">
            Ask me to manage your tasks, for example: {EXAMPLES.map((e) => `“${e}”`).join(", ")}.
          </li>
        ) : null}
        {messages.map((m) => (
          <li key={m.id} className={`message ${m.role}${m.failed ? " failed" : ""}`} data-role={m.role}>
            <span className="visually-hidden">{m.role === "user" ? "You said:" : "Assistant:"}</span>
            <p>{m.text}</p>
            {m.tools && m.tools.length > 0 ? <p className="tools">Used: {m.tools.join(", ")}</p> : null}
            {m.failed ? <p className="tools">Not delivered</p> : null}
          </li>
        ))}
        {sending ? (
          <li className="message assistant pending" role="status">
            Thinking…
          </li>
        ) : null}
      </ol>

      {error ? (
        <div className="alert" role="alert">
          <span>{error.message}</span>
          <button type="button" onClick={() => void send(error.text, error.messageId)} disabled={sending}>
            Retry
          </button>
        </div>
      ) : null}

      <form className="composer" onSubmit={submit}>
        <label htmlFor={`${id}-input`} className="visually-hidden">
          Message
        </label>
        <textarea
          id={`${id}-input`}
          ref={inputRef}
          name="message"
          rows={2}
          maxLength={4000}
          placeholder="Type a message, e.g. “Add a task to buy milk”"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKeyDown}
        />
        <button type="submit" className="primary" disabled={sending || draft.trim() === ""} aria-busy={sending}>
          {sending ? "Sending…" : "Send"}
        </button>
      </form>
    </section>
  );
}
