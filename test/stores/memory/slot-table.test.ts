import { describe, expect, it } from "vitest";
import { SlotTable } from "../../../src/stores/memory/slot-table.js";

/** A table with one owner, and a helper that takes a slot expiring at `expiresAt`. */
function setup(maxSlots: number) {
  const table = new SlotTable(maxSlots);
  const keys = new Map<string, number>();
  const owner = table.addOwner(keys);
  const take = (key: string, now: number, expiresAt: number) => {
    const slot = table.allocate(owner, key, now);
    table.setExpiresAt(slot, expiresAt);
    return slot;
  };
  return { table, keys, take };
}

describe("SlotTable", () => {
  it("records a slot in its owner", () => {
    const { table, keys, take } = setup(4);
    const slot = take("a", 0, 100);

    expect(keys.get("a")).toBe(slot);
    expect(table.size).toBe(1);
  });

  it("removes the key on release", () => {
    const { table, keys, take } = setup(4);
    const slot = take("a", 0, 100);

    table.release(slot);

    expect(keys.has("a")).toBe(false);
    expect(table.size).toBe(0);
  });

  it("ignores a second release", () => {
    const { table, take } = setup(4);
    const slot = take("a", 0, 100);
    take("b", 0, 100);

    table.release(slot);
    table.release(slot);

    expect(table.size).toBe(1);
  });

  it("releases a log with its slot", () => {
    const { table, take } = setup(4);
    const slot = take("a", 0, 100);
    table.setLog(slot, [0, 1]);
    expect(table.logCount).toBe(1);

    table.release(slot);

    expect(table.logCount).toBe(0);
    expect(table.logOf(slot)).toBeUndefined();
  });

  it("releases a log on eviction", () => {
    const { table, keys, take } = setup(2);
    const logged = take("a", 0, 100);
    table.setLog(logged, [0, 1]);
    take("b", 0, 100);

    take("c", 1, 100);

    expect(keys.has("a")).toBe(false);
    expect(table.logCount).toBe(0);
  });

  it("evicts the least recently touched slot", () => {
    const { table, keys, take } = setup(3);
    const a = take("a", 0, 100);
    take("b", 0, 100);
    take("c", 0, 100);
    table.touch(a);

    take("d", 1, 100);

    expect([...keys.keys()].sort()).toEqual(["a", "c", "d"]);
  });

  it("evicts an expired slot before the least recent", () => {
    const { table, keys, take } = setup(3);
    take("old-live", 0, 1000);
    take("expired", 0, 10);
    take("recent", 0, 1000);

    take("new", 500, 1000);

    expect(table.size).toBe(3);
    expect([...keys.keys()].sort()).toEqual(["new", "old-live", "recent"]);
  });

  it("sweeps only expired slots", () => {
    const { table, keys, take } = setup(100);
    for (let i = 0; i < 10; i++) take(`k${i}`, 0, i % 2 === 0 ? 10 : 1000);

    const freed = table.sweep(500, 10);

    expect(freed).toBe(5);
    expect([...keys.keys()].sort()).toEqual(["k1", "k3", "k5", "k7", "k9"]);
  });

  it("sweeps at most its budget", () => {
    const { table, take } = setup(100);
    for (let i = 0; i < 10; i++) take(`k${i}`, 0, 10);

    // Each insert above already swept two slots, all still live at time 0.
    expect(table.sweep(500, 3)).toBe(3);
    expect(table.size).toBe(7);
  });

  it("keeps state across page growth", () => {
    const { table, take } = setup(20_000);
    const slots: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const slot = take(`k${i}`, 0, 1_000_000 + i);
      table.page(slot)[table.offset(slot)] = i;
      slots.push(slot);
    }

    let mismatches = 0;
    for (const [i, slot] of slots.entries()) {
      if (table.page(slot)[table.offset(slot)] !== i) mismatches++;
      if (table.expiresAt(slot) !== 1_000_000 + i) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("reuses freed slots before growing", () => {
    const { table, take } = setup(8);
    const first = take("a", 0, 100);
    table.release(first);

    expect(take("b", 0, 100)).toBe(first);
  });

  it("frees every slot on clear", () => {
    const { table, keys, take } = setup(8);
    for (let i = 0; i < 5; i++) take(`k${i}`, 0, 100);

    table.clear();

    expect(table.size).toBe(0);
    expect(keys.size).toBe(0);
  });
});
