import { describe, expect, it } from "vitest";
import { defaultKey, maskAddress, unwrapMappedAddress } from "../../src/http/address.js";
import { AllowList } from "../../src/http/allow-list.js";

describe("maskAddress", () => {
  it.each([
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:0db8:0001:0002:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"],
    ["2001:DB8:A:B::1", "2001:db8:a:b::/64"],
    ["2001:db8::1", "2001:db8::/64"],
    ["2001:db8:0:0:1::", "2001:db8::/64"],
    ["2001:0:0:1::7", "2001:0:0:1::/64"],
    ["0:0:0:1::", "0:0:0:1::/64"],
    ["::1", "::/64"],
    ["::", "::/64"],
    ["fe80::1%eth0", "fe80::/64"],
    ["fe80::aaaa:bbbb:cccc:dddd%2", "fe80::/64"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4::/64"],
  ])("masks %s to %s", (address, masked) => {
    expect(maskAddress(address)).toBe(masked);
  });

  it.each([
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["::FFFF:10.0.0.255", "10.0.0.255"],
    ["::ffff:c000:201", "192.0.2.1"],
    ["0:0:0:0:0:ffff:7f00:1", "127.0.0.1"],
  ])("unwraps mapped %s to %s", (address, plain) => {
    expect(maskAddress(address)).toBe(plain);
  });

  it.each([["192.0.2.1"], ["10.255.255.255"]])("keeps IPv4 %s whole", (address) => {
    expect(maskAddress(address)).toBe(address);
  });

  it("keeps one /64 for rotated interface ids", () => {
    const a = maskAddress("2001:db8:5:6:1111:2222:3333:4444");
    const b = maskAddress("2001:db8:5:6:9999:8888:7777:6666");
    expect(a).toBe(b);
  });

  it("separates neighbouring /64 prefixes", () => {
    expect(maskAddress("2001:db8:5:6::1")).not.toBe(maskAddress("2001:db8:5:7::1"));
  });

  it("returns a non-address unchanged", () => {
    expect(maskAddress("/tmp/app.sock")).toBe("/tmp/app.sock");
  });
});

describe("unwrapMappedAddress", () => {
  it("unwraps a mapped address", () => {
    expect(unwrapMappedAddress("::ffff:203.0.113.9")).toBe("203.0.113.9");
  });

  it("keeps a plain IPv6 address whole", () => {
    expect(unwrapMappedAddress("2001:db8::1")).toBe("2001:db8::1");
  });
});

describe("defaultKey", () => {
  it("uses a string user id", () => {
    expect(defaultKey({ id: "u-1" }, "192.0.2.1")).toBe("user:u-1");
  });

  it("uses a numeric user id", () => {
    expect(defaultKey({ id: 42 }, "192.0.2.1")).toBe("user:42");
  });

  it.each([[undefined], [null], [{}], [{ id: "" }], [{ id: Number.NaN }], [{ id: {} }], ["u-1"]])(
    "falls back to the address for user %j",
    (user) => {
      expect(defaultKey(user, "192.0.2.1")).toBe("ip:192.0.2.1");
    },
  );

  it("masks an IPv6 address", () => {
    expect(defaultKey(undefined, "2001:db8:1:2:3:4:5:6")).toBe("ip:2001:db8:1:2::/64");
  });

  it("rejects a request without user or address", () => {
    expect(() => defaultKey(undefined, undefined)).toThrow(TypeError);
  });
});

describe("AllowList", () => {
  const list = new AllowList(
    [
      "192.0.2.7",
      "10.0.0.0/8",
      "2001:db8:aa::/48",
      "::ffff:198.51.100.1",
      "user:42",
      "ip:2001:db8::/64",
    ],
    "allow",
  );

  it.each([
    ["192.0.2.7"],
    ["10.20.30.40"],
    ["::ffff:10.1.2.3"],
    ["2001:db8:aa:1::5"],
    ["198.51.100.1"],
  ])("matches address %s", (address) => {
    expect(list.hasAddress(address)).toBe(true);
  });

  it.each([["192.0.2.8"], ["11.0.0.1"], ["2001:db8:ab::1"], ["not-an-address"]])(
    "rejects address %s",
    (address) => {
      expect(list.hasAddress(address)).toBe(false);
    },
  );

  it("ignores a missing address", () => {
    expect(list.hasAddress(undefined)).toBe(false);
  });

  it("matches a listed key", () => {
    expect(list.hasKey("user:42")).toBe(true);
  });

  it("matches a key containing a slash", () => {
    expect(list.hasKey("ip:2001:db8::/64")).toBe(true);
  });

  it("does not match an address entry as key", () => {
    expect(list.hasKey("192.0.2.7")).toBe(false);
  });

  it("rejects a non-array", () => {
    expect(() => new AllowList("192.0.2.7", "allow")).toThrow(TypeError);
  });

  it("rejects a non-string entry", () => {
    expect(() => new AllowList([42], "allow")).toThrow(/allow\[0\]/);
  });

  it("rejects an empty entry", () => {
    expect(() => new AllowList([""], "allow")).toThrow(RangeError);
  });

  it.each([["10.0.0.0/33"], ["2001:db8::/129"], ["10.0.0.0/x"]])("rejects prefix %s", (entry) => {
    expect(() => new AllowList([entry], "allow")).toThrow(RangeError);
  });
});
