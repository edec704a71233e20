import { BlockList, isIP } from "node:net";
import { invalidType, outOfRange } from "../errors.js";
import { unwrapMappedAddress } from "./address.js";

/**
 * Keys and client addresses that are never limited. An entry is an IP address
 * (`"192.0.2.7"`, `"2001:db8::1"`), a subnet in CIDR form (`"10.0.0.0/8"`,
 * `"2001:db8::/32"`), or else a key compared exactly with the request's key.
 */
export class AllowList {
  #keys = new Set<string>();
  #addresses = new BlockList();
  #hasAddresses = false;

  /**
   * @param name the option name used in error messages.
   * @throws {TypeError} when `entries` is not an array of strings.
   * @throws {RangeError} for an empty entry or a CIDR prefix length out of range.
   */
  constructor(entries: unknown, name: string) {
    if (!Array.isArray(entries)) {
      throw invalidType(name, "an array of keys, IP addresses or CIDR subnets", entries);
    }
    entries.forEach((entry: unknown, index) => {
      this.#add(entry, `${name}[${index}]`);
    });
  }

  /** True when `key` is listed. */
  hasKey(key: string): boolean {
    return this.#keys.has(key);
  }

  /** True when `address` is listed or inside a listed subnet. IPv4-mapped IPv6 counts as IPv4. */
  hasAddress(address: string | undefined): boolean {
    if (!this.#hasAddresses || address === undefined) return false;

    const plain = unwrapMappedAddress(address);
    const family = isIP(plain);
    if (family === 0) return false;
    return this.#addresses.check(plain, family === 4 ? "ipv4" : "ipv6");
  }

  #add(entry: unknown, name: string): void {
    if (typeof entry !== "string") {
      throw invalidType(name, "a key, an IP address or a CIDR subnet", entry);
    }
    if (entry === "") throw outOfRange(name, "a non-empty string", entry);

    const slash = entry.lastIndexOf("/");
    const prefix = slash === -1 ? entry : entry.slice(0, slash);
    const family = isIP(unwrapMappedAddress(prefix));
    if (family === 0) {
      this.#keys.add(entry);
      return;
    }

    const type = family === 4 ? "ipv4" : "ipv6";
    this.#hasAddresses = true;
    if (slash === -1) {
      this.#addresses.addAddress(unwrapMappedAddress(entry), type);
      return;
    }

    const bits = entry.slice(slash + 1);
    const maxBits = family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits) {
      throw outOfRange(name, `a CIDR prefix length from 0 to ${maxBits}`, entry);
    }
    this.#addresses.addSubnet(unwrapMappedAddress(prefix), Number(bits), type);
  }
}
