import { afterEach, describe, expect, it, vi } from "vitest";

import { ConfigError, backendUrl, parseBackendUrl } from "@/lib/config";

describe("parseBackendUrl", () => {
  it.each([
    ["http://todo-backend:8000", "http://todo-backend:8000"],
    ["http://todo-backend:8000/", "http://todo-backend:8000"],
    ["  https://api.example.com/base/  ", "https://api.example.com/base"],
    ["http://127.0.0.1:8000", "http://127.0.0.1:8000"],
  ])("accepts %j", (raw, expected) => {
    expect(parseBackendUrl(raw)).toBe(expected);
  });

  it.each([undefined, "", "   "])("refuses a missing value (%j) and names BACKEND_URL", (raw) => {
    expect(() => parseBackendUrl(raw)).toThrow(ConfigError);
    expect(() => parseBackendUrl(raw)).toThrow(/^BACKEND_URL is not set/);
  });

  it.each(["todo-backend:8000", "not a url", "ftp://host", "http://", "http://h/?x=1", "http://u:p@h"])(
    "refuses a malformed value %j and names BACKEND_URL",
    (raw) => {
      expect(() => parseBackendUrl(raw)).toThrow(/^BACKEND_URL is malformed/);
    },
  );

  it("produces one-line messages", () => {
    try {
      parseBackendUrl("todo-backend:8000");
    } catch (exc) {
      expect((exc as Error).message).not.toContain("\n");
    }
  });
});

describe("backendUrl", () => {
  afterEach(() => vi.unstubAllEnvs());

  it("reads the environment at call time, not once", () => {
    vi.stubEnv("BACKEND_URL", "http://first:8000");
    expect(backendUrl()).toBe("http://first:8000");
    vi.stubEnv("BACKEND_URL", "http://second:9000");
    expect(backendUrl()).toBe("http://second:9000");
  });
});
