import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import LoginForm from "@/components/LoginForm";

import { json, stubFetch } from "./fetch-stub";

vi.mock("next/navigation", () => ({ useRouter: () => ({ replace: vi.fn(), refresh: vi.fn(), push: vi.fn() }) }));

afterEach(() => vi.unstubAllGlobals());

async function fill(email: string, password: string) {
  const user = userEvent.setup();
  await user.type(screen.getByLabelText("Email"), email);
  await user.type(screen.getByLabelText("Password"), password);
  return user;
}

describe("LoginForm", () => {
  it("signs in and calls onSignedIn", async () => {
    const { calls } = stubFetch({ "POST /api/auth/login": () => json(200, { user_id: "1", email: "ada@example.com" }) });
    const onSignedIn = vi.fn();
    render(<LoginForm onSignedIn={onSignedIn} />);
    const user = await fill("ada@example.com", "correct horse");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    await vi.waitFor(() => expect(onSignedIn).toHaveBeenCalledOnce());
    expect(calls).toEqual([{ method: "POST", url: "/api/auth/login", body: { email: "ada@example.com", password: "correct horse" } }]);
  });

  it("checks the fields before calling the server", async () => {
    const { mock } = stubFetch({});
    render(<LoginForm onSignedIn={vi.fn()} />);
    await userEvent.setup().click(screen.getByRole("button", { name: "Sign in" }));
    expect(screen.getByText("Enter your email address.")).toBeInTheDocument();
    expect(screen.getByLabelText("Email")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Email")).toHaveAccessibleDescription("Enter your email address.");
    expect(mock).not.toHaveBeenCalled();
  });

  it("says when the credentials are wrong", async () => {
    stubFetch({ "POST /api/auth/login": () => json(401, { detail: "invalid email or password" }) });
    const onSignedIn = vi.fn();
    render(<LoginForm onSignedIn={onSignedIn} />);
    const user = await fill("ada@example.com", "wrong password");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong email or password.");
    expect(onSignedIn).not.toHaveBeenCalled();
  });

  it("registers, then signs in", async () => {
    const { calls } = stubFetch({
      "POST /api/auth/register": () => json(201, { id: "1", email: "ada@example.com" }),
      "POST /api/auth/login": () => json(200, { user_id: "1", email: "ada@example.com" }),
    });
    const onSignedIn = vi.fn();
    render(<LoginForm onSignedIn={onSignedIn} />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Create an account" }));
    expect(screen.getByRole("heading", { name: "Create an account" })).toBeInTheDocument();
    await fill("ada@example.com", "long enough");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    await vi.waitFor(() => expect(onSignedIn).toHaveBeenCalledOnce());
    expect(calls.map((c) => c.url)).toEqual(["/api/auth/register", "/api/auth/login"]);
  });

  it("shows the server's field errors (422) next to the fields", async () => {
    stubFetch({
      "POST /api/auth/register": () =>
        json(422, {
          detail: [{ loc: ["body", "email"], msg: "Value error, must be an email address such as ada@example.com", type: "value_error" }],
        }),
    });
    render(<LoginForm onSignedIn={vi.fn()} />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Create an account" }));
    await fill("ada@example.c0m", "long enough");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByText("must be an email address such as ada@example.com")).toBeInTheDocument();
    expect(screen.getByLabelText("Email")).toHaveAttribute("aria-invalid", "true");
  });

  it("says when the email is taken (409)", async () => {
    stubFetch({ "POST /api/auth/register": () => json(409, { detail: "email already registered" }) });
    render(<LoginForm onSignedIn={vi.fn()} />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Create an account" }));
    await fill("ada@example.com", "long enough");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByText(/already exists/)).toBeInTheDocument();
  });

  it("says in plain words when the backend is down", async () => {
    stubFetch({
      "POST /api/auth/login": () =>
        json(503, { error: "backend_unavailable", message: "The task service cannot be reached right now. Please try again in a moment." }),
    });
    render(<LoginForm onSignedIn={vi.fn()} />);
    const user = await fill("ada@example.com", "whatever1");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The task service cannot be reached right now.");
  });
});
