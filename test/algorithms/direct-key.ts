import {
  type Algorithm,
  createVerdict,
  type StateView,
  type Verdict,
} from "../../src/algorithms/algorithm.js";
import { type PolicyOptions, parsePolicy } from "../../src/policy/policy.js";

/** Policy options without the algorithm, which the key fixes. */
export type BucketOptions = Omit<PolicyOptions, "algorithm">;

/** Creates one key's state and drives it through `decide`/`commit`, as a store does. */
export function directKey(algorithm: Algorithm, options: BucketOptions) {
  const state: StateView = { data: new Float64Array(3), offset: 0, empty: true, log: undefined };
  const verdict = createVerdict();
  let policy = parsePolicy({ ...options, algorithm: algorithm.name });
  return {
    state: () => [...state.data],
    /** Switches to a changed policy under the same name; the state stays. */
    change(next: BucketOptions) {
      policy = parsePolicy({ ...next, algorithm: algorithm.name });
    },
    /** Decides and, when allowed with a cost, commits. */
    check(at: number, cost = 1): Verdict {
      algorithm.decide(policy, state, at, cost, verdict);
      if (verdict.allowed && cost > 0) algorithm.commit(policy, state, verdict);
      return { ...verdict };
    },
  };
}
