import { describe, expect, it } from "vitest";
import { Progress } from "../../src/cli/progress.js";

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, isTTY, write: (text: string) => writes.push(text) };
}

describe("Progress", () => {
  it("silent during the first second", () => {
    let now = 0;
    const output = sink(false);
    const progress = new Progress(output, true, 1000, () => now);

    now = 999;
    progress.update(10, 100);

    expect(output.writes).toEqual([]);
  });

  it("line per update off a terminal", () => {
    let now = 0;
    const output = sink(false);
    const progress = new Progress(output, true, 4 * 1024 * 1024, () => now);

    now = 1000;
    progress.update(12_345, 1024 * 1024);
    now = 1500;
    progress.update(20_000, 2 * 1024 * 1024);
    now = 2000;
    progress.update(30_000, 3 * 1024 * 1024);

    expect(output.writes).toEqual([
      "sluice: replayed 12,345 lines (25% of 4.0 MiB)\n",
      "sluice: replayed 30,000 lines (75% of 4.0 MiB)\n",
    ]);
  });

  it("terminal line rewritten and cleared", () => {
    let now = 0;
    const output = sink(true);
    const progress = new Progress(output, true, undefined, () => now);

    now = 1000;
    progress.update(5, 0);
    progress.finish();

    expect(output.writes).toEqual(["\rsluice: replayed 5 lines\x1b[K", "\r\x1b[K"]);
  });

  it("disabled writes nothing", () => {
    let now = 0;
    const output = sink(true);
    const progress = new Progress(output, false, 100, () => now);

    now = 5000;
    progress.update(5, 50);
    progress.finish();

    expect(output.writes).toEqual([]);
  });
});
