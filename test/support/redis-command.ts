import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { LOOPBACK_HOST } from "./free-port.js";

/** A reply decoded from RESP2. Error replies nested inside arrays stay {@link RedisReplyError} values. */
export type RedisReply = string | number | null | RedisReplyError | RedisReply[];

/** An error reply (`-ERR ...`) sent by the server. */
export class RedisReplyError extends Error {
  override readonly name = "RedisReplyError";
}

/** Options of {@link redisCommand}. */
export interface RedisCommandOptions {
  /**
   * Time in milliseconds for connecting, sending and reading the whole reply. A paused server
   * accepts the TCP connection but never replies, so this bound is what detects it.
   * @default 1000
   */
  readonly timeoutMs?: number;
}

/**
 * Sends one command over a fresh connection to 127.0.0.1:`port` and resolves with the reply.
 *
 * The harness uses this for readiness and topology checks because it never retries, queues or
 * reconnects, unlike an ioredis client. Rejects with {@link RedisReplyError} on an error reply
 * and with a plain `Error` on timeout or a closed connection.
 *
 * @example
 * const info = await redisCommand(server.port, ["CLUSTER", "INFO"]);
 */
export function redisCommand(
  port: number,
  args: readonly (string | number)[],
  options: RedisCommandOptions = {},
): Promise<RedisReply> {
  const timeoutMs = options.timeoutMs ?? 1000;
  const address = `${LOOPBACK_HOST}:${port}`;
  const commandName = String(args[0] ?? "");

  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    let settled = false;
    const socket = connect({ host: LOOPBACK_HOST, port });

    const finish = (error: Error | undefined, reply?: RedisReply): void => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) {
        reject(error);
        return;
      }
      resolve(reply ?? null);
    };

    const timer = setTimeout(() => {
      finish(
        new Error(`Redis command ${commandName} to ${address} timed out after ${timeoutMs} ms.`),
      );
    }, timeoutMs);

    socket.once("connect", () => socket.write(encodeCommand(args)));
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      let parsed: ParsedReply | undefined;
      try {
        parsed = parseReply(received, 0);
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (parsed === undefined) {
        return;
      }
      if (parsed.reply instanceof RedisReplyError) {
        finish(parsed.reply);
        return;
      }
      finish(undefined, parsed.reply);
    });
    socket.once("error", (error) => {
      finish(new Error(`Redis command ${commandName} to ${address} failed: ${error.message}`));
    });
    socket.once("close", () => {
      finish(new Error(`Connection to ${address} closed before the reply to ${commandName}.`));
    });
  });
}

/** Parses the `key:value` lines of an `INFO` or `CLUSTER INFO` reply into a map. */
export function parseInfo(reply: RedisReply): Map<string, string> {
  if (typeof reply !== "string") {
    throw new TypeError(`Expected an INFO reply as a string, received ${JSON.stringify(reply)}.`);
  }

  const fields = new Map<string, string>();
  for (const line of reply.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) {
      fields.set(line.slice(0, colon), line.slice(colon + 1));
    }
  }
  return fields;
}

/** Options of {@link pollUntil}. */
export interface PollOptions {
  /** Total time to wait in milliseconds. */
  readonly timeoutMs: number;
  /** What is awaited, used in the timeout message, e.g. `"cluster_state:ok on 127.0.0.1:7000"`. */
  readonly description: string;
  /** Pause between checks in milliseconds. @default 100 */
  readonly intervalMs?: number;
}

/**
 * Calls `check` until it returns a value other than `undefined`, and returns that value.
 *
 * A check that throws counts as "not yet", and its error is quoted in the timeout message.
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  options: PollOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastProblem = "no check completed";

  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) {
        return value;
      }
      lastProblem = "the last check found the condition unmet";
    } catch (error) {
      lastProblem = `the last check failed: ${error instanceof Error ? error.message : String(error)}`;
    }

    if (Date.now() >= deadline) {
      throw new Error(
        `Timed out after ${options.timeoutMs} ms waiting for ${options.description}; ${lastProblem}.`,
      );
    }
    await sleep(options.intervalMs ?? 100);
  }
}

function encodeCommand(args: readonly (string | number)[]): string {
  let encoded = `*${args.length}\r\n`;
  for (const arg of args) {
    const text = String(arg);
    encoded += `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  }
  return encoded;
}

interface ParsedReply {
  readonly reply: RedisReply;
  /** Byte offset just past this reply. */
  readonly next: number;
}

/** Decodes one RESP2 reply starting at byte `offset`; returns `undefined` while it is incomplete. */
function parseReply(buffer: Buffer, offset: number): ParsedReply | undefined {
  const lineEnd = buffer.indexOf("\r\n", offset);
  if (lineEnd === -1) {
    return undefined;
  }

  const type = buffer.toString("latin1", offset, offset + 1);
  const line = buffer.toString("utf8", offset + 1, lineEnd);
  const afterLine = lineEnd + 2;

  switch (type) {
    case "+":
      return { reply: line, next: afterLine };
    case "-":
      return { reply: new RedisReplyError(line), next: afterLine };
    case ":":
      return { reply: Number(line), next: afterLine };
    case "$":
      return parseBulkString(buffer, Number(line), afterLine);
    case "*":
      return parseArray(buffer, Number(line), afterLine);
    default:
      throw new Error(`Unexpected RESP type byte ${JSON.stringify(type)} in a reply.`);
  }
}

function parseBulkString(buffer: Buffer, length: number, start: number): ParsedReply | undefined {
  if (length < 0) {
    return { reply: null, next: start };
  }
  if (buffer.length < start + length + 2) {
    return undefined;
  }
  return { reply: buffer.toString("utf8", start, start + length), next: start + length + 2 };
}

function parseArray(buffer: Buffer, count: number, start: number): ParsedReply | undefined {
  if (count < 0) {
    return { reply: null, next: start };
  }

  const items: RedisReply[] = [];
  let next = start;
  for (let index = 0; index < count; index++) {
    const item = parseReply(buffer, next);
    if (item === undefined) {
      return undefined;
    }
    items.push(item.reply);
    next = item.next;
  }
  return { reply: items, next };
}
