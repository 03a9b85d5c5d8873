"use client";

import { useCallback, useEffect, useId, useState } from "react";

import { ApiError, api, type Task } from "@/lib/api";

type Filter = "all" | "pending" | "completed";

interface Props {
  /** Changes whenever the list must be fetched again (e.g. after a chat turn that used a tool). */
  refreshKey?: number;
  onUnauthorized?: () => void;
}

export default function TaskList({ refreshKey = 0, onUnauthorized }: Props) {
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [filter, setFilter] = useState<Filter>("all");
  const [error, setError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [reloads, setReloads] = useState(0);
  const id = useId();

  const handle = useCallback(
    (exc: unknown): string => {
      if (exc instanceof ApiError && exc.status === 401) onUnauthorized?.();
      return exc instanceof Error ? exc.message : "Something went wrong.";
    },
    [onUnauthorized],
  );

  useEffect(() => {
    let cancelled = false;
    api
      .tasks(filter)
      .then((list) => {
        if (cancelled) return;
        setTasks(list);
        setError(null);
      })
      .catch((exc: unknown) => {
        if (!cancelled) setError(handle(exc));
      });
    return () => {
      cancelled = true;
    };
  }, [filter, refreshKey, reloads, handle]);

  async function toggle(task: Task) {
    setActionError(null);
    try {
      await api.setCompleted(task.id, !task.completed);
      setReloads((n) => n + 1);
    } catch (exc) {
      setActionError(handle(exc));
    }
  }

  async function remove(task: Task) {
    setActionError(null);
    try {
      await api.deleteTask(task.id);
      setReloads((n) => n + 1);
    } catch (exc) {
      setActionError(handle(exc));
    }
  }

  const pending = tasks?.filter((t) => !t.completed).length ?? 0;
  return (
    <section className="card tasks" aria-labelledby={`${id}-title`}>
      <div className="tasks-head">
        <h2 id={`${id}-title`}>Your tasks</h2>
        <label className="filter">
          <span className="visually-hidden">Show</span>
          <select value={filter} onChange={(e) => setFilter(e.target.value as Filter)} aria-label="Show tasks">
            <option value="all">All</option>
            <option value="pending">Pending</option>
            <option value="completed">Completed</option>
          </select>
        </label>
      </div>

      {error ? (
        <div className="alert" role="alert">
          <span>{error}</span>
          <button type="button" onClick={() => setReloads((n) => n + 1)}>
            Retry
          </button>
        </div>
      ) : null}
      {actionError ? (
        <div className="alert" role="alert">
          {actionError}
        </div>
      ) : null}

      {tasks === null && !error ? (
        <p className="muted" role="status">
          Loading tasks…
        </p>
      ) : null}
      {tasks !== null && tasks.length === 0 ? (
        <p className="muted">{filter === "all" ? "No tasks yet. Ask the assistant to add one." : `No ${filter} tasks.`}</p>
      ) : null}
      {tasks !== null && tasks.length > 0 ? (
        <>
          <p className="muted" aria-live="polite">
            {tasks.length} shown, {pending} pending
          </p>
          <ul className="task-list" aria-label="Tasks">
            {tasks.map((task) => (
              <li
                key={task.id}
                className={`task${task.completed ? " done" : ""}`}
                data-task-id={task.id}
                data-completed={task.completed ? "true" : "false"}
              >
                <input
                  type="checkbox"
                  id={`${id}-task-${task.id}`}
                  checked={task.completed}
                  onChange={() => void toggle(task)}
                />
                <label htmlFor={`${id}-task-${task.id}`}>
                  <span className="task-id">#{task.id}</span> <span className="task-title">{task.title}</span>
                  {task.completed ? <span className="visually-hidden"> (completed)</span> : null}
                  {task.description ? <span className="task-desc">{task.description}</span> : null}
                </label>
                <button type="button" className="icon" aria-label={`Delete task ${task.id}: ${task.title}`} onClick={() => void remove(task)}>
                  ✕
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}
