import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import ChatPanel from "@/components/ChatPanel";

import { json, stubFetch } from "./fetch-stub";

afterEach(() => {
  vi.unstubAllGlobals();
  window.sessionStorage.clear();
});

const added = {
  conversation_id: 11,
  response: "I added “buy milk” (task 1).",
  tool_calls: [{ name: "add_task", arguments: { title: "buy milk" }, result: { task_id: 1 } }],
};

describe("ChatPanel", () => {
  it("sends with Enter, shows both sides and reports tool calls", async () => {
    const { calls } = stubFetch({ "POST /api/chat": () => json(200, added) });
    const onToolCalls = vi.fn();
    render(<ChatPanel onToolCalls={onToolCalls} />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Message"), "Add a task to buy milk{Enter}");
    const log = screen.getByRole("list", { name: "Conversation" });
    expect(await within(log).findByText("I added “buy milk” (task 1).")).toBeInTheDocument();
    expect(within(log).getByText("Add a task to buy milk")).toBeInTheDocument();
    expect(onToolCalls).toHaveBeenCalledOnce();
    expect(calls[0].body).toEqual({ message: "Add a task to buy milk" });
    expect(screen.getByLabelText("Message")).toHaveValue("");
  });

  it("keeps the conversation id for the next turn and does not report turns without tools", async () => {
    let turn = 0;
    const { calls } = stubFetch({
      "POST /api/chat": () =>
        json(200, turn++ === 0 ? added : { conversation_id: 11, response: "Hello!", tool_calls: [] }),
    });
    const onToolCalls = vi.fn();
    render(<ChatPanel onToolCalls={onToolCalls} />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Message"), "Add a task to buy milk");
    await user.click(screen.getByRole("button", { name: "Send" }));
    await screen.findByText("I added “buy milk” (task 1).");
    await user.type(screen.getByLabelText("Message"), "hi{Enter}");
    await screen.findByText("Hello!");
    expect(calls[1].body).toEqual({ conversation_id: 11, message: "hi" });
    expect(onToolCalls).toHaveBeenCalledTimes(1);
  });

  it("shows a sending state while waiting", async () => {
    let release: (r: Response) => void = () => {};
    stubFetch({ "POST /api/chat": () => new Promise<Response>((resolve) => (release = resolve)) });
    render(<ChatPanel />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Message"), "hello{Enter}");
    expect(await screen.findByRole("button", { name: "Sending…" })).toBeDisabled();
    expect(screen.getByRole("status")).toHaveTextContent("Thinking");
    release(json(200, { conversation_id: 1, response: "hi there", tool_calls: [] }));
    expect(await screen.findByText("hi there")).toBeInTheDocument();
    expect(screen.queryByRole("status")).not.toBeInTheDocument();
  });

  it("shows the error in plain words and retries the same message", async () => {
    let fail = true;
    const { calls } = stubFetch({
      "POST /api/chat": () =>
        fail
          ? json(503, { error: "backend_unavailable", message: "The task service cannot be reached right now. Please try again in a moment." })
          : json(200, added),
    });
    const onToolCalls = vi.fn();
    render(<ChatPanel onToolCalls={onToolCalls} />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Message"), "Add a task to buy milk{Enter}");
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The task service cannot be reached right now.");
    expect(screen.getByText("Not delivered")).toBeInTheDocument();
    fail = false;
    await user.click(within(alert).getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("I added “buy milk” (task 1).")).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    expect(screen.getAllByText("Add a task to buy milk")).toHaveLength(1);
    expect(calls.map((c) => c.body)).toEqual([{ message: "Add a task to buy milk" }, { message: "Add a task to buy milk" }]);
    expect(onToolCalls).toHaveBeenCalledOnce();
  });

  it("hands a 401 to onUnauthorized", async () => {
    stubFetch({ "POST /api/chat": () => json(401, { error: "not_authenticated", message: "You are not signed in." }) });
    const onUnauthorized = vi.fn();
    render(<ChatPanel onUnauthorized={onUnauthorized} />);
    await userEvent.setup().type(screen.getByLabelText("Message"), "hi{Enter}");
    await vi.waitFor(() => expect(onUnauthorized).toHaveBeenCalledOnce());
  });

  it("remembers the conversation id and shows its history after a reload", async () => {
    const { calls } = stubFetch({
      "POST /api/chat": () => json(200, added),
      "GET /api/conversations/11": () =>
        json(200, {
          id: 11,
          messages: [
            { id: 1, role: "user", content: "Add a task to buy milk", tool_calls: null, created_at: "" },
            { id: 2, role: "assistant", content: "I added “buy milk” (task 1).", tool_calls: added.tool_calls, created_at: "" },
          ],
        }),
    });
    const first = render(<ChatPanel storageKey="conv" />);
    await userEvent.setup().type(screen.getByLabelText("Message"), "Add a task to buy milk{Enter}");
    await screen.findByText("I added “buy milk” (task 1).");
    expect(window.sessionStorage.getItem("conv")).toBe("11");
    first.unmount();

    render(<ChatPanel storageKey="conv" />);
    expect(await screen.findByText("I added “buy milk” (task 1).")).toBeInTheDocument();
    expect(screen.getByText("Add a task to buy milk")).toBeInTheDocument();
    expect(screen.getByText("Used: add_task")).toBeInTheDocument();
    await userEvent.setup().type(screen.getByLabelText("Message"), "Mark it as complete{Enter}");
    await vi.waitFor(() => expect(calls.at(-1)?.body).toEqual({ conversation_id: 11, message: "Mark it as complete" }));
  });

  it("starts afresh when the remembered conversation is gone", async () => {
    window.sessionStorage.setItem("conv", "99");
    stubFetch({ "GET /api/conversations/99": () => json(404, { detail: "conversation not found" }) });
    render(<ChatPanel storageKey="conv" />);
    await vi.waitFor(() => expect(window.sessionStorage.getItem("conv")).toBeNull());
    expect(screen.getByText(/Ask me to manage your tasks/)).toBeInTheDocument();
  });
});
