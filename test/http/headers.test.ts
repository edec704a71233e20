import { describe, expect, it } from "vitest";
import {
  advertisePolicy,
  effectiveWindowSeconds,
  formatRateLimit,
  formatRateLimitPolicy,
  legacyHeaders,
  rateLimitHeaders,
  retryAfterSeconds,
} from "../../src/http/headers.js";
import { MAX_SF_INTEGER } from "../../src/http/structured-field.js";
import { parsePolicy } from "../../src/policy/policy.js";
import { decisionOf, parseRateLimit, parseStringItemList } from "./support.js";

const NOW = 1_000_000;

function denied(retryAfter: number) {
  return decisionOf({ allowed: false, remaining: 0, retryAfter, reason: "limit-exceeded" });
}

describe("retryAfterSeconds", () => {
  it.each([
    [1500, 2],
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [0, 1],
    [86_400_000, 86_400],
  ])("rounds %d ms up to %d s", (ms, seconds) => {
    expect(retryAfterSeconds(denied(ms))).toBe(seconds);
  });

  it("is undefined when allowed", () => {
    expect(retryAfterSeconds(decisionOf())).toBeUndefined();
  });

  it("is undefined when cost exceeds capacity", () => {
    const decision = decisionOf({ allowed: false, reason: "cost-exceeds-capacity" });
    expect(retryAfterSeconds(decision)).toBeUndefined();
  });

  it("is at least 1 for a degraded rejection", () => {
    const decision = decisionOf({
      allowed: false,
      retryAfter: 0,
      reason: "store-timeout",
      degraded: true,
    });
    expect(retryAfterSeconds(decision)).toBe(1);
  });
});

describe("advertisePolicy", () => {
  it.each([
    ["100/1m", 100, 60],
    ["10/s", 10, 1],
    ["5/500ms", 10, 1],
    ["3/333ms", 9, 1],
    ["1/1500ms", 1, 2],
    ["7/2500ms", 8, 3],
    ["1000/1h", 1000, 3600],
  ])("writes %s as q=%d;w=%d", (spec, quota, window) => {
    expect(advertisePolicy(parsePolicy(spec))).toEqual({ quota, window });
  });

  it("never advertises a higher rate", () => {
    for (const window of [1, 7, 333, 999, 1001, 1500, 2999, 61_001]) {
      for (const limit of [1, 2, 3, 17, 1000]) {
        const advertised = advertisePolicy(parsePolicy({ limit, window }));
        expect(advertised.quota * window).toBeLessThanOrEqual(limit * advertised.window * 1000);
      }
    }
  });

  it("clamps a huge quota to sf-integer range", () => {
    const policy = parsePolicy({ limit: Number.MAX_SAFE_INTEGER, window: "1s" });
    expect(advertisePolicy(policy).quota).toBe(MAX_SF_INTEGER);
  });

  it("clamps a huge scaled quota", () => {
    const policy = parsePolicy({ limit: Number.MAX_SAFE_INTEGER, window: 1 });
    expect(advertisePolicy(policy).quota).toBe(MAX_SF_INTEGER);
  });
});

describe("effectiveWindowSeconds", () => {
  it("counts seconds until reset when allowed", () => {
    expect(effectiveWindowSeconds(decisionOf({ resetAt: NOW + 30_001 }), NOW)).toBe(31);
  });

  it("is 0 once reset has passed", () => {
    expect(effectiveWindowSeconds(decisionOf({ resetAt: NOW - 5 }), NOW)).toBe(0);
  });

  it("equals Retry-After on a rejection", () => {
    const decision = { ...denied(1500), resetAt: NOW + 60_000 };
    expect(effectiveWindowSeconds(decision, NOW)).toBe(2);
  });

  it("counts until reset when cost exceeds capacity", () => {
    const decision = decisionOf({
      allowed: false,
      reason: "cost-exceeds-capacity",
      resetAt: NOW + 4000,
    });
    expect(effectiveWindowSeconds(decision, NOW)).toBe(4);
  });
});

describe("formatRateLimitPolicy", () => {
  it("lists one policy", () => {
    const policy = parsePolicy({ name: "default", limit: 100, window: "10s" });
    expect(formatRateLimitPolicy([policy])).toBe('"default";q=100;w=10');
  });

  it("lists several policies in order", () => {
    const text = formatRateLimitPolicy([
      parsePolicy({ name: "permin", limit: 50, window: "1m" }),
      parsePolicy({ name: "perhr", limit: 1000, window: "1h" }),
    ]);
    expect(text).toBe('"permin";q=50;w=60, "perhr";q=1000;w=3600');
  });

  it("quotes default policy names", () => {
    const [item] = parseStringItemList(formatRateLimitPolicy([parsePolicy("5/500ms")]));
    expect(item?.value).toBe(parsePolicy("5/500ms").name);
  });
});

describe("formatRateLimit", () => {
  it("writes remaining and seconds to reset", () => {
    const decision = decisionOf({ policy: "default", remaining: 50, resetAt: NOW + 30_000 });
    expect(formatRateLimit(decision, NOW)).toBe('"default";r=50;t=30');
  });

  it("writes r=0 and Retry-After on a rejection", () => {
    const parsed = parseRateLimit(formatRateLimit(denied(1500), NOW));
    expect(parsed.parameters).toEqual({ r: 0, t: 2 });
  });

  it("clamps a huge remaining", () => {
    const decision = decisionOf({ remaining: Number.MAX_SAFE_INTEGER, resetAt: NOW });
    expect(parseRateLimit(formatRateLimit(decision, NOW)).parameters.r).toBe(MAX_SF_INTEGER);
  });
});

describe("legacyHeaders", () => {
  it("writes limit, remaining and reset epoch seconds", () => {
    const decision = decisionOf({ limit: 10, remaining: 3, resetAt: 1_700_000_000_001 });
    expect(legacyHeaders(decision)).toEqual([
      ["X-RateLimit-Limit", "10"],
      ["X-RateLimit-Remaining", "3"],
      ["X-RateLimit-Reset", "1700000001"],
    ]);
  });
});

describe("rateLimitHeaders", () => {
  const policies = [parsePolicy({ name: "default", limit: 10, window: "1m" })];
  const names = (decision = decisionOf(), mode = "both" as const) =>
    rateLimitHeaders(decision, policies, mode, NOW).map(([name]) => name);

  it("sends draft-11 fields", () => {
    const fields = rateLimitHeaders(decisionOf(), policies, "draft-11", NOW).map(([n]) => n);
    expect(fields).toEqual(["RateLimit-Policy", "RateLimit"]);
  });

  it("sends legacy fields", () => {
    const fields = rateLimitHeaders(decisionOf(), policies, "legacy", NOW).map(([n]) => n);
    expect(fields).toEqual(["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]);
  });

  it("sends both sets", () => {
    expect(names()).toHaveLength(5);
  });

  it("sends nothing for none when allowed", () => {
    expect(rateLimitHeaders(decisionOf(), policies, "none", NOW)).toEqual([]);
  });

  it("keeps Retry-After for none", () => {
    expect(rateLimitHeaders(denied(1500), policies, "none", NOW)).toEqual([["Retry-After", "2"]]);
  });

  it("omits Retry-After when cost exceeds capacity", () => {
    const decision = decisionOf({ allowed: false, reason: "cost-exceeds-capacity" });
    expect(names(decision)).not.toContain("Retry-After");
  });
});
