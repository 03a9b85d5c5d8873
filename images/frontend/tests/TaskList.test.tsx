import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import TaskList from "@/components/TaskList";
import type { Task } from "@/lib/api";

import { json, stubFetch } from "./fetch-stub";

afterEach(() => vi.unstubAllGlobals());

function task(id: number, title: string, completed = false): Task {
  return { id, title, description: null, completed, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z" };
}

describe("TaskList", () => {
  it("fetches again when refreshKey changes", async () => {
    let tasks = [task(1, "buy milk")];
    const { calls } = stubFetch({ "GET /api/tasks": () => json(200, tasks) });
    const { rerender } = render(<TaskList refreshKey={0} />);
    expect(await screen.findByText("buy milk")).toBeInTheDocument();
    tasks = [task(1, "buy milk", true), task(2, "call mom")];
    rerender(<TaskList refreshKey={1} />);
    expect(await screen.findByText("call mom")).toBeInTheDocument();
    expect(screen.getByRole("checkbox", { name: /buy milk/ })).toBeChecked();
    expect(calls.filter((c) => c.url === "/api/tasks?status=all")).toHaveLength(2);
  });

  it("toggles completion and deletes with labelled controls", async () => {
    let tasks = [task(4, "water plants")];
    const { calls } = stubFetch({
      "GET /api/tasks": () => json(200, tasks),
      "PATCH /api/tasks/4/complete": () => {
        tasks = [task(4, "water plants", true)];
        return json(200, tasks[0]);
      },
      "DELETE /api/tasks/4": () => {
        tasks = [];
        return new Response(null, { status: 204 });
      },
    });
    render(<TaskList />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("checkbox", { name: /water plants/ }));
    await vi.waitFor(() => expect(screen.getByRole("checkbox", { name: /water plants/ })).toBeChecked());
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ completed: true });
    await user.click(screen.getByRole("button", { name: "Delete task 4: water plants" }));
    expect(await screen.findByText(/No tasks yet/)).toBeInTheDocument();
  });

  it("filters by status", async () => {
    const { calls } = stubFetch({ "GET /api/tasks": (url) => json(200, url.endsWith("completed") ? [task(2, "done thing", true)] : []) });
    render(<TaskList />);
    await screen.findByText(/No tasks yet/);
    await userEvent.setup().selectOptions(screen.getByLabelText("Show tasks"), "completed");
    expect(await screen.findByText("done thing")).toBeInTheDocument();
    expect(calls.at(-1)?.url).toBe("/api/tasks?status=completed");
  });

  it("shows a load error with a working retry", async () => {
    let down = true;
    stubFetch({
      "GET /api/tasks": () =>
        down ? json(502, { error: "backend_error", message: "The task service ran into a problem. Please try again in a moment." }) : json(200, [task(1, "buy milk")]),
    });
    render(<TaskList />);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("ran into a problem");
    down = false;
    await userEvent.setup().click(within(alert).getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("buy milk")).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });
});
