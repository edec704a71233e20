import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/limiter.js";
import { loadVectors, pickExpected } from "./vectors.js";

describe.each([...loadVectors()])("memory store vectors %s", (_file, vectors) => {
  it.each(vectors.cases.map((c) => [c.name, c] as const))("%s", async (_name, vectorCase) => {
    const limiter = new RateLimiter({ policies: vectorCase.policies });
    for (const [index, step] of vectorCase.steps.entries()) {
      const options = { at: step.at, cost: step.cost ?? 1 };
      const key = step.key ?? "k";
      const decision = step.peek
        ? await limiter.peek(key, options)
        : await limiter.check(key, options);
      expect(pickExpected(decision, step), `step ${index} at ${step.at}`).toEqual(
        Object.fromEntries(Object.entries(step.expect).sort()),
      );
    }
    await limiter.close();
  });
});
