import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/limiter.js";
import type { Store } from "../../src/stores/store.js";

const remoteStore: Store = {
  consume: async () => [],
  reset: async () => {},
  close: async () => {},
};

describe("RateLimiter remote options", () => {
  it("timeout beyond timer range rejected", () => {
    const create = () => new RateLimiter({ policy: "1/s", store: remoteStore, timeout: 2 ** 31 });

    expect(create).toThrow(RangeError);
    expect(create).toThrow(/timeout must be at most 2147483647 ms; received 2147483648/);
  });

  it("timeout at timer range accepted", () => {
    const create = () =>
      new RateLimiter({ policy: "1/s", store: remoteStore, timeout: 2_147_483_647 });

    expect(create).not.toThrow();
  });
});
