// @vitest-environment node
/**
 * The proxy's client for the backend (src/lib/backend-http.ts) against a real HTTP server on
 * loopback: pooled keep-alive connections, `Connection: close` honoured, the body sent with its
 * length, the deadline, and an answer cut short reported as a connection failure.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { BackendTimeoutError, sendToBackend } from "@/lib/backend-http";

type Seen = { port: number; method: string; headers: http.IncomingHttpHeaders; body: string };

let server: http.Server | undefined;

async function serve(answer: (seen: Seen, response: http.ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      const entry = { port: request.socket.remotePort ?? 0, method: request.method ?? "", headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8") };
      seen.push(entry);
      answer(entry, response);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

afterEach(async () => {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

const get = (url: string, timeoutMs = 5_000) => sendToBackend({ method: "GET", url, headers: {}, timeoutMs });

describe("sendToBackend", () => {
  it("reuses one keep-alive connection for requests one after another", async () => {
    const { url, seen } = await serve((_s, res) => res.end("[]"));
    for (let i = 0; i < 3; i++) expect(await get(`${url}/api/x`)).toEqual({ status: 200, text: "[]" });
    expect(new Set(seen.map((s) => s.port)).size).toBe(1);
    expect(seen[0].headers.connection).toBe("keep-alive");
  });

  it("opens a new connection after an answer with Connection: close (a draining backend)", async () => {
    const { url, seen } = await serve((_s, res) => {
      res.setHeader("connection", "close");
      res.end("{}");
    });
    await get(`${url}/a`);
    await get(`${url}/b`);
    expect(seen).toHaveLength(2);
    expect(seen[0].port).not.toBe(seen[1].port);
  });

  it("sends the body with its length in bytes, and the given headers", async () => {
    const { url, seen } = await serve((_s, res) => {
      res.statusCode = 201;
      res.end('{"ok":true}');
    });
    const body = JSON.stringify({ title: "bär" });
    const answer = await sendToBackend({ method: "POST", url: `${url}/t`, body, timeoutMs: 5_000,
      headers: { "content-type": "application/json", authorization: "Bearer t" } });
    expect(answer).toEqual({ status: 201, text: '{"ok":true}' });
    expect(seen[0]).toMatchObject({ method: "POST", body });
    expect(seen[0].headers["content-length"]).toBe(String(Buffer.byteLength(body)));
    expect(seen[0].headers.authorization).toBe("Bearer t");
    expect(seen[0].headers["transfer-encoding"]).toBeUndefined();
  });

  it("gives up at the deadline with a TimeoutError", async () => {
    const { url } = await serve(() => {}); // never answers
    await expect(get(`${url}/slow`, 200)).rejects.toBeInstanceOf(BackendTimeoutError);
  });

  it("reports an answer cut short as a connection failure (ECONNRESET)", async () => {
    const { url } = await serve((_s, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("[1,");
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await expect(get(`${url}/cut`)).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("reports a refused connection with its code", async () => {
    const { url } = await serve((_s, res) => res.end());
    server!.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    await expect(get(`${url}/x`)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});
