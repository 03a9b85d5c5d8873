import { describe, expect, it } from "vitest";

import { describeError } from "@/lib/api";

describe("describeError", () => {
  it("maps FastAPI validation errors to fields", () => {
    const err = describeError(422, {
      detail: [
        { loc: ["body", "password"], msg: "String should have at least 8 characters", type: "string_too_short" },
        { loc: ["body", "email"], msg: "Value error, must be an email address such as ada@example.com", type: "value_error" },
      ],
    });
    expect(err.status).toBe(422);
    expect(err.fieldErrors).toEqual({
      password: "String should have at least 8 characters",
      email: "must be an email address such as ada@example.com",
    });
  });

  it("uses a string detail or the proxy's message", () => {
    expect(describeError(409, { detail: "email already registered" }).message).toBe("email already registered");
    expect(describeError(503, { error: "backend_unavailable", message: "down" }).message).toBe("down");
  });

  it("says in plain words when the backend is unreachable and no body came", () => {
    expect(describeError(503, null).message).toMatch(/cannot be reached/);
    expect(describeError(502, null).message).toMatch(/ran into a problem/);
  });
});
