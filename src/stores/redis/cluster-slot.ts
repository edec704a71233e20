/** Number of hash slots in a Redis Cluster. */
export const CLUSTER_SLOTS = 16_384;

/** CRC16-CCITT (XMODEM) lookup table: polynomial 0x1021, as Redis Cluster specifies. */
const CRC16_TABLE = buildTable();

function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    table[byte] = crc & 0xffff;
  }
  return table;
}

/**
 * Returns the Cluster hash slot of every Redis key whose hash tag is `encodedKey` (from
 * `encodeKey`): CRC16 of the UTF-8 text between its opening brace and the first closing
 * brace after it, modulo 16384. That text is never empty, because it starts with the
 * encoding's letter and colon.
 */
export function hashSlotOf(encodedKey: string): number {
  const close = encodedKey.indexOf("}", 1);
  const tag = encodedKey.slice(1, close === -1 ? encodedKey.length : close);

  // ASCII text is its own UTF-8, so most keys need no byte buffer.
  let crc = 0;
  for (let i = 0; i < tag.length; i++) {
    const code = tag.charCodeAt(i);
    if (code > 0x7f) return crcOfBytes(Buffer.from(tag, "utf8")) % CLUSTER_SLOTS;
    crc = step(crc, code);
  }
  return crc % CLUSTER_SLOTS;
}

function crcOfBytes(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = step(crc, byte);
  return crc;
}

function step(crc: number, byte: number): number {
  return ((crc << 8) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number)) & 0xffff;
}
