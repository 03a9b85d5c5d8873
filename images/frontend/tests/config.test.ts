import { afterEach, describe, expect, it, vi } from "vitest";

import {
  ConfigError,
  HSTS_MAX_AGE_LIMIT,
  backendUrl,
  checkRuntimeConfig,
  hstsMaxAge,
  parseBackendUrl,
  parseHstsMaxAge,
  parseSessionCookieSecure,
  sessionCookieSecure,
} from "@/lib/config";

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

describe("parseSessionCookieSecure", () => {
  it.each([
    [undefined, "auto"],
    ["", "auto"],
    ["auto", "auto"],
    ["true", "true"],
    [" False ", "false"],
  ])("%j -> %j", (raw, expected) => {
    expect(parseSessionCookieSecure(raw)).toBe(expected);
  });

  it.each(["yes", "1", "on", "secure", "truee"])("refuses %j with one line naming SESSION_COOKIE_SECURE", (raw) => {
    expect(() => parseSessionCookieSecure(raw)).toThrow(ConfigError);
    expect(() => parseSessionCookieSecure(raw)).toThrow(/^SESSION_COOKIE_SECURE is malformed .*auto, true or false$/);
  });
});

describe("parseHstsMaxAge", () => {
  it.each([
    [undefined, 0],
    ["", 0],
    ["0", 0],
    ["31536000", 31536000],
    [" 300 ", 300],
    [String(HSTS_MAX_AGE_LIMIT), HSTS_MAX_AGE_LIMIT],
  ])("%j -> %d", (raw, expected) => {
    expect(parseHstsMaxAge(raw)).toBe(expected);
  });

  it.each(["-1", "1y", "3.5", "1e6", "abc", String(HSTS_MAX_AGE_LIMIT + 1)])(
    "refuses %j with one line naming HSTS_MAX_AGE",
    (raw) => {
      expect(() => parseHstsMaxAge(raw)).toThrow(ConfigError);
      expect(() => parseHstsMaxAge(raw)).toThrow(/^HSTS_MAX_AGE is malformed [^\n]*$/);
    },
  );
});

describe("runtime settings", () => {
  afterEach(() => vi.unstubAllEnvs());

  it("are read at call time", () => {
    vi.stubEnv("HSTS_MAX_AGE", "60");
    vi.stubEnv("SESSION_COOKIE_SECURE", "true");
    expect([hstsMaxAge(), sessionCookieSecure()]).toEqual([60, "true"]);
    vi.stubEnv("HSTS_MAX_AGE", "0");
    vi.stubEnv("SESSION_COOKIE_SECURE", "auto");
    expect([hstsMaxAge(), sessionCookieSecure()]).toEqual([0, "auto"]);
  });

  it("checkRuntimeConfig names the first bad variable", () => {
    const good = { BACKEND_URL: "http://b:8000", SESSION_COOKIE_SECURE: "auto", HSTS_MAX_AGE: "0" };
    expect(() => checkRuntimeConfig(good)).not.toThrow();
    expect(() => checkRuntimeConfig({ ...good, HSTS_MAX_AGE: "x" })).toThrow(/^HSTS_MAX_AGE/);
    expect(() => checkRuntimeConfig({ ...good, SESSION_COOKIE_SECURE: "x" })).toThrow(/^SESSION_COOKIE_SECURE/);
    expect(() => checkRuntimeConfig({ ...good, BACKEND_URL: "" })).toThrow(/^BACKEND_URL/);
  });
});
