import { describe, expect, it } from "vitest";

import { cookieOptions, decodeSession, encodeSession, isHttps, tokenMaxAge } from "@/lib/session";

function jwt(claims: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.signature`;
}

describe("session cookie value", () => {
  it("round-trips", () => {
    const s = { token: "a.b.c", userId: "0b5c7a4e-2f1d-4c3b-9a8e-6d7f1e2a3b4c", email: "ada@example.com" };
    expect(decodeSession(encodeSession(s))).toEqual(s);
  });

  it.each(["42", "../../auth/login", "0b5c7a4e-2f1d-4c3b-9a8e-6d7f1e2a3b4c/../x", "0b5c7a4e-2f1d-4c3b-9a8e-6d7f1e2a3b4c?x=1", " ", "%2e%2e"])(
    "refuses a user id %j that is not the backend's format (a UUID)",
    (userId) => {
      expect(decodeSession(encodeSession({ token: "a.b.c", userId, email: "" }))).toBeNull();
    },
  );

  it.each([undefined, null, "", "garbage!", Buffer.from("{}").toString("base64url"), Buffer.from('{"token":"","userId":"1"}').toString("base64url")])(
    "treats %j as no session",
    (value) => {
      expect(decodeSession(value)).toBeNull();
    },
  );
});

describe("tokenMaxAge", () => {
  it("follows the JWT's exp", () => {
    expect(tokenMaxAge(jwt({ sub: "1", exp: 1_000 + 3600 }), 1_000)).toBe(3600);
  });
  it("is undefined without exp or for a non-JWT", () => {
    expect(tokenMaxAge(jwt({ sub: "1" }))).toBeUndefined();
    expect(tokenMaxAge("opaque")).toBeUndefined();
  });
});

describe("cookie flags", () => {
  it("are httpOnly and SameSite=Lax, Secure only over HTTPS", () => {
    expect(cookieOptions(false)).toMatchObject({ httpOnly: true, sameSite: "lax", secure: false, path: "/" });
    expect(cookieOptions(true, 60)).toMatchObject({ httpOnly: true, sameSite: "lax", secure: true, maxAge: 60 });
  });
  it("detects HTTPS directly or behind a proxy", () => {
    expect(isHttps("https://x/api", null)).toBe(true);
    expect(isHttps("http://x/api", null)).toBe(false);
    expect(isHttps("http://x/api", "https")).toBe(true);
    expect(isHttps("https://x/api", "http")).toBe(false);
  });
});
