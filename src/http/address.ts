import { isIPv4, isIPv6 } from "node:net";

/**
 * Client addresses as rate limit keys.
 *
 * One IPv6 client usually controls a whole /64 (RFC 7421 fixes 64-bit interface identifiers
 * for SLAAC, and privacy extensions rotate them), so keying on the full address would let it
 * rotate through 2^64 keys. IPv6 addresses are therefore masked to their /64 prefix.
 */

/**
 * Returns the IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:192.0.2.1` or
 * `::ffff:c000:201`), which is how a dual-stack socket reports IPv4 clients. Any other value
 * is returned unchanged.
 */
export function unwrapMappedAddress(address: string): string {
  if (!isIPv6(address)) return address;

  const hextets = parseIPv6(address);
  if (!isMapped(hextets)) return address;
  return formatMappedIPv4(hextets);
}

/**
 * Converts a client address to the part that identifies one client: IPv4 addresses whole,
 * IPv6 addresses masked to their /64 prefix in RFC 5952 form (`2001:db8:1:2::/64`), and
 * IPv4-mapped IPv6 addresses as plain IPv4. A zone index (`%eth0`) is dropped. A value that
 * is not an IP address is returned unchanged.
 *
 * @example
 * maskAddress("2001:db8:1:2:3:4:5:6"); // "2001:db8:1:2::/64"
 * maskAddress("::ffff:192.0.2.1"); // "192.0.2.1"
 */
export function maskAddress(address: string): string {
  if (isIPv4(address) || !isIPv6(address)) return address;

  const hextets = parseIPv6(address);
  if (isMapped(hextets)) return formatMappedIPv4(hextets);
  return `${formatPrefix64(hextets)}/64`;
}

/**
 * Builds the default key of a request: `user:<id>` when the application attached an
 * authenticated user with a string or finite number `id`, else `ip:<masked address>`. The
 * prefixes keep a user id from ever sharing a counter with an address.
 *
 * @throws {TypeError} when there is no user id and no address, as when the socket is
 * already closed.
 */
export function defaultKey(user: unknown, address: string | undefined): string {
  const id = userIdOf(user);
  if (id !== undefined) return `user:${id}`;

  if (address === undefined || address === "") {
    throw new TypeError(
      "rate limit key could not be derived: the request has no user id and no client address; pass a key function",
    );
  }
  return `ip:${maskAddress(address)}`;
}

/** Reads `user.id` when it is a non-empty string or a finite number. */
function userIdOf(user: unknown): string | undefined {
  if (typeof user !== "object" || user === null) return undefined;

  const id: unknown = (user as { id?: unknown }).id;
  if (typeof id === "string" && id !== "") return id;
  if (typeof id === "number" && Number.isFinite(id)) return String(id);
  return undefined;
}

/**
 * Parses a valid IPv6 address into its eight 16-bit groups. The caller has checked it with
 * `isIPv6`, so the syntax is known to be well formed.
 */
function parseIPv6(address: string): number[] {
  const zone = address.indexOf("%");
  const text = zone === -1 ? address : address.slice(0, zone);

  const [head = "", tail] = text.split("::");
  const front = groupsOf(head);
  if (tail === undefined) return front;

  const back = groupsOf(tail);
  const zeros = new Array<number>(8 - front.length - back.length).fill(0);
  return [...front, ...zeros, ...back];
}

/** Parses colon-separated groups, expanding a trailing dotted IPv4 part into two groups. */
function groupsOf(part: string): number[] {
  if (part === "") return [];

  const groups: number[] = [];
  for (const group of part.split(":")) {
    if (group.includes(".")) {
      const [a = 0, b = 0, c = 0, d = 0] = group.split(".").map(Number);
      groups.push((a << 8) | b, (c << 8) | d);
    } else {
      groups.push(Number.parseInt(group, 16));
    }
  }
  return groups;
}

/** True for `::ffff:0:0/96`, the IPv4-mapped range. */
function isMapped(hextets: readonly number[]): boolean {
  for (let i = 0; i < 5; i++) {
    if (hextets[i] !== 0) return false;
  }
  return hextets[5] === 0xffff;
}

function formatMappedIPv4(hextets: readonly number[]): string {
  const high = hextets[6] ?? 0;
  const low = hextets[7] ?? 0;
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/**
 * Formats the first four groups with the last four zeroed, in RFC 5952 form. The zeroed tail
 * is a run of at least four zero groups. A zero run inside the first four groups that does not
 * touch the tail has at most three, so `::` always replaces the tail, together with any zero
 * groups just before it.
 */
function formatPrefix64(hextets: readonly number[]): string {
  const prefix = hextets.slice(0, 4);
  while (prefix.length > 0 && prefix[prefix.length - 1] === 0) prefix.pop();
  return `${prefix.map((group) => group.toString(16)).join(":")}::`;
}
