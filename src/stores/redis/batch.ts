import type { Policy } from "../../policy/policy.js";
import type { ConsumeRequest, Outcome } from "../store.js";
import { redisKey } from "./redis-keys.js";

/** A request waiting in the store's queue for the next script call. */
export interface PendingRequest {
  readonly request: ConsumeRequest;
  /** The key's hash tag, from `encodeKey`. */
  readonly encodedKey: string;
  resolve(outcomes: Outcome[]): void;
  reject(error: unknown): void;
}

/** Arguments the requests of one limiter share, sent once per batch so each request adds little. */
interface Shape {
  readonly policies: readonly Policy[];
  readonly cost: number;
  readonly dryRun: boolean;
}

/**
 * Builds the consume script's arguments for a batch, in the layout its header describes:
 * the distinct policies and request shapes once, then per request only what varies.
 * Returns the arguments after `head` (the script or its SHA1), keys first, and the number
 * of keys.
 */
export function batchArguments(
  prefix: string,
  head: string,
  batch: readonly PendingRequest[],
): { keyCount: number; args: (string | number)[] } {
  const keys: (string | number)[] = [head, 0];
  const policyNumbers = new Map<Policy, number>();
  const policyArgs: (string | number)[] = [];
  const shapes: Shape[] = [];
  const shapeArgs: (string | number)[] = [];
  const shapeOfRequest: number[] = [];
  let stamped = false;

  for (const { request, encodedKey } of batch) {
    const { policies } = request;
    for (const policy of policies) keys.push(redisKey(prefix, policy.name, encodedKey));
    if (request.at !== undefined) stamped = true;

    let shape = findShape(shapes, request);
    if (shape === 0) {
      shapes.push(request);
      shape = shapes.length;
      shapeArgs.push(request.cost, request.dryRun ? "1" : "0", policies.length);
      for (const policy of policies) {
        shapeArgs.push(policyNumber(policy, policyNumbers, policyArgs));
      }
    }
    shapeOfRequest.push(shape);
  }

  const keyCount = keys.length - 2;
  keys[1] = keyCount;
  const args = keys;
  args.push(policyNumbers.size);
  for (const value of policyArgs) args.push(value);
  args.push(shapes.length);
  for (const value of shapeArgs) args.push(value);
  args.push(stamped ? "1" : "0");

  if (shapes.length > 1 || stamped) {
    for (let i = 0; i < batch.length; i++) {
      if (shapes.length > 1) args.push(shapeOfRequest[i] as number);
      if (stamped) args.push((batch[i] as PendingRequest).request.at ?? "");
    }
  }
  return { keyCount, args };
}

/** Returns the 1-based number of the shape `request` matches, or 0. */
function findShape(shapes: readonly Shape[], request: ConsumeRequest): number {
  for (let i = 0; i < shapes.length; i++) {
    const shape = shapes[i] as Shape;
    if (
      shape.policies === request.policies &&
      shape.cost === request.cost &&
      shape.dryRun === request.dryRun
    ) {
      return i + 1;
    }
  }
  return 0;
}

/** Returns the 1-based number of `policy` in the batch, adding its six values when new. */
function policyNumber(
  policy: Policy,
  numbers: Map<Policy, number>,
  policyArgs: (string | number)[],
): number {
  let number = numbers.get(policy);
  if (number === undefined) {
    number = numbers.size + 1;
    numbers.set(policy, number);
    policyArgs.push(
      policy.algorithm,
      policy.limit,
      policy.window,
      policy.burst,
      policy.rateUnits,
      policy.rateInterval,
    );
  }
  return number;
}

/** Returns the reply length the consume script sends for a batch. */
export function expectedReplyLength(batch: readonly PendingRequest[]): number {
  let length = 1;
  for (const { request } of batch) length += 4 * request.policies.length;
  return length;
}

/**
 * Turns the consume script's reply into one outcome per policy for the request whose
 * values start at `offset`; returns the offset of the next request.
 */
export function readOutcomes(
  reply: readonly unknown[],
  offset: number,
  request: ConsumeRequest,
  into: Outcome[],
): number {
  let at = offset;
  for (const policy of request.policies) {
    // A cost above the capacity is decided as a read and rejected for good.
    const fits = request.cost <= policy.capacity;
    const allowed = reply[at] === 1;
    let reason: Outcome["reason"] = allowed ? "allowed" : "limit-exceeded";
    if (!fits) reason = "cost-exceeds-capacity";
    into.push({
      allowed,
      remaining: toNumber(reply[at + 1]),
      resetAt: toNumber(reply[at + 2]),
      retryAfter: fits ? toNumber(reply[at + 3]) : 0,
      reason,
    });
    at += 4;
  }
  return at;
}

/** Reads a reply number: an integer, or a decimal string for values beyond 2^53 − 1. */
export function toNumber(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}
