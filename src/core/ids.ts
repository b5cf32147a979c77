// Time-ordered ids (UUIDv7 layout, RFC 9562): a 48-bit Unix-ms timestamp, then a 12-bit
// sequence, then 62 random bits. New rows get keys at the end of their primary-key index
// instead of a random page, which keeps bulk loads and busy tables writing few pages.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL_SIZE = 4096;

export interface TimeOrderedIds {
  /** The next id: a canonical lower-case UUID string, greater than any this generator made before. */
  next(): string;
}

/**
 * A generator of time-ordered ids. Ids from one generator strictly increase (as strings, too):
 * within a millisecond a 12-bit sequence counts up, and if it overflows (over ~2,000 ids in one
 * ms) the timestamp is borrowed from the next millisecond.
 * @example
 *   const ids = timeOrderedIds();
 *   ids.next(); // '019a6f3c-8e21-7a4b-9f03-5c2d1e0b7a64'
 */
export function timeOrderedIds(
  options: { readonly now?: () => number; readonly random?: (bytes: Uint8Array) => void } = {},
): TimeOrderedIds {
  const now = options.now ?? Date.now;
  const fill = options.random ?? ((bytes: Uint8Array) => globalThis.crypto.getRandomValues(bytes));
  // Random bytes are drawn a pool at a time: one call per ~450 ids instead of one per id.
  const pool = new Uint8Array(POOL_SIZE);
  let used = POOL_SIZE;
  const random = (n: number): number => {
    if (used + n > POOL_SIZE) {
      fill(pool);
      used = 0;
    }
    const at = used;
    used += n;
    return at;
  };
  let lastMs = -1;
  let seq = 0;
  return {
    next() {
      const ms = now();
      if (ms > lastMs) {
        lastMs = ms;
        const r = random(2);
        seq = ((pool[r]! << 8) | pool[r + 1]!) & 0x7ff; // start in the lower half: room to count up
      } else if (seq < 0xfff) {
        seq++;
      } else {
        lastMs++;
        seq = 0;
      }
      const r = random(8);
      const hi = Math.floor(lastMs / 2 ** 16);
      const lo = lastMs % 2 ** 16;
      return (
        HEX[(hi >>> 24) & 0xff]! +
        HEX[(hi >>> 16) & 0xff]! +
        HEX[(hi >>> 8) & 0xff]! +
        HEX[hi & 0xff]! +
        '-' +
        HEX[lo >>> 8]! +
        HEX[lo & 0xff]! +
        '-' +
        HEX[0x70 | (seq >>> 8)]! +
        HEX[seq & 0xff]! +
        '-' +
        HEX[0x80 | (pool[r]! & 0x3f)]! +
        HEX[pool[r + 1]!]! +
        '-' +
        HEX[pool[r + 2]!]! +
        HEX[pool[r + 3]!]! +
        HEX[pool[r + 4]!]! +
        HEX[pool[r + 5]!]! +
        HEX[pool[r + 6]!]! +
        HEX[pool[r + 7]!]!
      );
    },
  };
}

const shared = timeOrderedIds();

/**
 * A new time-ordered id (UUIDv7 layout): ids made in this process sort in the order they were
 * made, so rows keyed by them are appended at the end of their index.
 * @example
 *   const productId = timeOrderedId(); // '019a6f3c-8e21-7a4b-9f03-5c2d1e0b7a64'
 */
export const timeOrderedId = (): string => shared.next();
