import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/http/options.js";
import { RateLimiter } from "../../src/limiter.js";

const context = { name: "rateLimit options" };
const limiter = new RateLimiter({ policy: "10/s" });

describe("resolveOptions", () => {
  it("applies defaults", () => {
    const resolved = resolveOptions({ limiter }, context);
    expect({
      headers: resolved.headers,
      headersWhenAllowed: resolved.headersWhenAllowed,
      degradedHeaders: resolved.degradedHeaders,
    }).toEqual({ headers: "draft-11", headersWhenAllowed: true, degradedHeaders: true });
  });

  it("returns the fixed limiter", () => {
    expect(resolveOptions({ limiter }, context).selectLimiter({})).toBe(limiter);
  });

  it.each([
    [undefined, /rateLimit options must be/],
    [{}, /rateLimit options\.limiter must be a RateLimiter/],
    [{ limiter: {} }, /limiter must be a RateLimiter/],
    [{ limiter: { check() {}, policies: [] } }, /limiter must be/],
    [{ limiter, key: "ip" }, /rateLimit options\.key must be a function; received "ip"/],
    [{ limiter, cost: 2 }, /cost must be a function/],
    [{ limiter, skip: true }, /skip must be a function/],
    [{ limiter, onLimited: {} }, /onLimited must be a function/],
    [
      { limiter, headers: "draft-7" },
      /headers must be one of "draft-11", "legacy", "both", "none"/,
    ],
    [{ limiter, headersWhenAllowed: "yes" }, /headersWhenAllowed must be true or false/],
    [{ limiter, degradedHeaders: 0 }, /degradedHeaders must be true or false/],
    [{ limiter, header: "legacy" }, /rateLimit options\.header must be absent/],
    [{ limiter, allow: "127.0.0.1" }, /allow must be an array/],
  ])("rejects %j", (options, message) => {
    expect(() => resolveOptions(options, context)).toThrow(message);
  });

  it("tags errors with the sluice code", () => {
    let caught: unknown;
    try {
      resolveOptions({ limiter, headers: "x" }, context);
    } catch (error) {
      caught = error;
    }
    expect((caught as { code?: string }).code).toBe("SLUICE_INVALID_ARGUMENT");
  });

  it("accepts adapter extra keys", () => {
    expect(() =>
      resolveOptions({ limiter, hook: "preHandler" }, { ...context, extraKeys: ["hook"] }),
    ).not.toThrow();
  });

  it("allows a missing limiter when not required", () => {
    const resolved = resolveOptions({}, { ...context, limiterRequired: false });
    expect(resolved.selectLimiter({})).toBeUndefined();
  });

  it("checks a selected limiter per request", () => {
    const resolved = resolveOptions({ limiter: () => ({ nope: true }) }, context);
    expect(() => resolved.selectLimiter({})).toThrow(/limiter\(request\) must be a RateLimiter/);
  });

  it("lets a selector leave a request unlimited", () => {
    const resolved = resolveOptions({ limiter: () => undefined }, context);
    expect(resolved.selectLimiter({})).toBeUndefined();
  });
});
