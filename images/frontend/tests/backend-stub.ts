/**
 * A real HTTP server on loopback standing in for the backend in the route tests: the proxy's
 * client (lib/backend-http.ts) talks to it over real connections. Each request it receives is
 * handed to `handler` (a vi.fn the test programs): a Response it returns is sent back as it is
 * (status, headers, body); a rejection closes the connection without an answer, which is what the
 * proxy sees when a backend goes away. The calls keep their full URL (base + path) and
 * {method, headers, body} (body undefined when none arrived).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface BackendInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export type BackendHandler = (url: string, init: BackendInit) => Promise<Response>;

export interface StubBackend {
  url: string;
  close(): Promise<void>;
}

export async function startBackend(handler: BackendHandler): Promise<StubBackend> {
  let base = "";
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      const body = chunks.length ? Buffer.concat(chunks).toString("utf8") : undefined;
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
      );
      let answer: Response;
      try {
        answer = await handler(`${base}${request.url}`, { method: request.method ?? "GET", headers, body });
      } catch {
        request.socket.destroy();
        return;
      }
      const text = await answer.text();
      response.writeHead(answer.status, Object.fromEntries(answer.headers));
      response.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
