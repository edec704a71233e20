import { once } from "node:events";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import type { Policy } from "../../src/policy/policy.js";
import { parsePolicy } from "../../src/policy/policy.js";
import type { Decision } from "../../src/types.js";

/** A server listening on 127.0.0.1 at a port the OS chose. */
export interface TestServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a `node:http` server (Express apps are listeners too) on 127.0.0.1, port 0. */
export async function listen(listener: RequestListener): Promise<TestServer> {
  const server = createServer(listener);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");

  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** One member of a parsed List whose Items are Strings with Integer parameters. */
export interface ParsedItem {
  readonly value: string;
  readonly parameters: Readonly<Record<string, number>>;
}

/**
 * Parses a Structured Field List of String Items with Integer parameters, following the
 * parsing steps of RFC 8941 section 4.2 for that subset. Throws on anything else, so a test
 * fails on a malformed field.
 */
export function parseStringItemList(text: string): ParsedItem[] {
  let at = 0;
  const items: ParsedItem[] = [];
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at offset ${at} of ${JSON.stringify(text)}`);
  };
  const skip = (pattern: RegExp) => {
    while (at < text.length && pattern.test(text.charAt(at))) at++;
  };

  skip(/ /);
  while (at < text.length) {
    if (text[at] !== '"') fail("expected a string");
    at++;
    let value = "";
    for (;;) {
      const char = text.charAt(at++);
      if (char === "") fail("unterminated string");
      if (char === '"') break;
      if (char === "\\") {
        const escaped = text.charAt(at++);
        if (escaped !== '"' && escaped !== "\\") fail("invalid escape");
        value += escaped;
      } else {
        value += char;
      }
    }

    const parameters: Record<string, number> = {};
    while (text[at] === ";") {
      at++;
      skip(/ /);
      const key = /^[a-z*][a-z0-9_.*-]*/.exec(text.slice(at))?.[0] ?? fail("expected a key");
      at += key.length;
      if (text[at] !== "=") fail("expected =");
      at++;
      const digits =
        /^-?\d{1,15}(?![\d.])/.exec(text.slice(at))?.[0] ?? fail("expected an integer");
      at += digits.length;
      parameters[key] = Number(digits);
    }
    items.push({ value, parameters });

    skip(/[ \t]/);
    if (at === text.length) break;
    if (text[at] !== ",") fail("expected a comma");
    at++;
    skip(/[ \t]/);
    if (at === text.length) fail("trailing comma");
  }
  return items;
}

/** Parses a `RateLimit` field holding exactly one member. */
export function parseRateLimit(text: string | null): ParsedItem {
  if (text === null) throw new Error("RateLimit header is missing");
  const items = parseStringItemList(text);
  if (items.length !== 1) throw new Error(`expected one RateLimit member; received ${text}`);
  return items[0] as ParsedItem;
}

/** Builds a decision for unit tests, allowed with full quota unless overridden. */
export function decisionOf(overrides: Partial<Decision> = {}): Decision {
  return {
    allowed: true,
    limit: 10,
    remaining: 9,
    resetAt: 1_000_000,
    retryAfter: 0,
    policy: "default",
    reason: "allowed",
    degraded: false,
    ...overrides,
  };
}

/** Creates a limiter double that returns `decision` for every check and records each call. */
export function fakeLimiter(
  decision: Decision | ((key: string, cost: number) => Decision),
  policies: readonly Policy[] = [parsePolicy({ name: "default", limit: 10, window: "1m" })],
) {
  const calls: Array<{ key: string; cost: number }> = [];
  return {
    policies,
    calls,
    async check(key: string, options?: { readonly cost?: number }): Promise<Decision> {
      const cost = options?.cost ?? 1;
      calls.push({ key, cost });
      return typeof decision === "function" ? decision(key, cost) : decision;
    },
  };
}

/** Creates a limiter double whose every check rejects with `error`. */
export function failingLimiter(error: Error) {
  return {
    policies: [parsePolicy({ name: "default", limit: 10, window: "1m" })],
    async check(): Promise<Decision> {
      throw error;
    },
  };
}
