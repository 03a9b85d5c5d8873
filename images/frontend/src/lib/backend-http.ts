/**
 * The proxy's HTTP client for the backend: node:http over one keep-alive pool per process.
 *
 * Not fetch(): in a route handler, fetch is Next's patched fetch over undici, and for each call
 * it builds a WHATWG Request and Response, streams the body through web streams, and sends a
 * request body in writes of its own after the headers. Under load/todo_user.py that machinery
 * (undici, web streams, their garbage) was the largest share of the frontend's CPU that this
 * app's code decides (bench/bench_frontend.py profiles it). Here a request is one write (headers
 * and body together) on a pooled connection, and the answer is read into one string: the
 * backend's answers are small JSON bodies, relayed whole anyway (lib/proxy.ts relay).
 */
import http from "node:http";
import https from "node:https";

export interface BackendRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The whole exchange, connection to last byte of the answer. */
  timeoutMs: number;
}

export interface BackendAnswer {
  status: number;
  text: string;
  /** The backend's Retry-After (a 429 or 503 says when to try again), relayed to the browser. */
  retryAfter?: string;
}

/**
 * The largest answer read from the backend. Answers are read whole into memory (relayed whole
 * anyway), so without a bound one account with tens of thousands of tasks made every list request
 * buffer megabytes, and a few at once OOM-killed the pod at its 320 Mi limit (issue 27). The backend
 * pages lists (at most 500 tasks of at most ~1.3 KB each: ~650 KB), so 2 MiB is far above any real answer.
 */
export const MAX_ANSWER_BYTES = 2 * 1024 * 1024;

/** The backend's answer was larger than MAX_ANSWER_BYTES; reading stopped there. */
export class AnswerTooLargeError extends Error {
  name = "AnswerTooLargeError";
}

/** The backend did not answer in time; never retried (it may be working on the request). */
export class BackendTimeoutError extends Error {
  name = "TimeoutError";
}

// Idle pooled connections close after 4 s (Node's usual idle keep-alive), far inside the backend's
// 65 s (images/backend/src/todo_api/__main__.py): this side closes first, so a request is never sent
// on a connection the server is closing. The Agent's `timeout` destroys only idle sockets; a request
// in flight has its own deadline below. LIFO reuse keeps the fewest connections warm. A draining
// backend (SIGTERM) answers `Connection: close`, and such a connection is not reused; a GET that
// still meets a closed connection is retried once (lib/proxy.ts).
const POOL = { keepAlive: true, timeout: 4_000, scheduling: "lifo" as const };
const agents = { "http:": new http.Agent(POOL), "https:": new https.Agent(POOL) };

export function sendToBackend(call: BackendRequest): Promise<BackendAnswer> {
  return new Promise((resolve, reject) => {
    const url = new URL(call.url);
    const client = url.protocol === "https:" ? https : http;
    const headers: Record<string, string | number> = { ...call.headers };
    if (call.body !== undefined) headers["content-length"] = Buffer.byteLength(call.body);
    const request = client.request(url, {
      method: call.method,
      headers,
      agent: agents[url.protocol as keyof typeof agents],
    });
    const timer = setTimeout(
      () => request.destroy(new BackendTimeoutError(`no answer within ${call.timeoutMs} ms`)),
      call.timeoutMs,
    );
    const fail = (exc: Error) => {
      clearTimeout(timer);
      reject(exc);
    };
    request.on("error", fail);
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          request.destroy(new AnswerTooLargeError(`the answer exceeds ${MAX_ANSWER_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on("error", fail);
      // The connection closed before the whole answer arrived.
      response.on("close", () => {
        if (size > MAX_ANSWER_BYTES) fail(new AnswerTooLargeError(`the answer exceeds ${MAX_ANSWER_BYTES} bytes`));
        else if (!response.complete) fail(Object.assign(new Error("the backend closed the answer early"), { code: "ECONNRESET" }));
      });
      response.on("end", () => {
        clearTimeout(timer);
        const answer: BackendAnswer = { status: response.statusCode ?? 502, text: Buffer.concat(chunks).toString("utf8") };
        const retryAfter = response.headers["retry-after"];
        if (typeof retryAfter === "string" && /^\d{1,6}$/.test(retryAfter)) answer.retryAfter = retryAfter;
        resolve(answer);
      });
    });
    // end(body) before the headers went out: Node sends headers and body in one write.
    request.end(call.body);
  });
}
