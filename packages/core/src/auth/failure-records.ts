import { isIPv6 } from 'node:net';

/**
 * A Map that keeps at most `max` entries: reading or writing one makes it the newest, and the oldest
 * goes when a new one would pass the bound. What a peer can grow (addresses, user names it makes up)
 * lives in these.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly max: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Without making it the newest (listings, stats). */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }
}

/** The times of the last failures (at most `keep`), those older than the window dropped when read. */
export class RecentFailures {
  readonly times: number[] = [];

  add(now: number, keep: number): number {
    this.times.push(now);
    if (this.times.length > keep) this.times.shift();
    return this.times.length;
  }

  /** How many fall within `windowMs` before `now`. */
  count(now: number, windowMs: number): number {
    while (this.times.length > 0 && this.times[0]! <= now - windowMs) this.times.shift();
    return this.times.length;
  }
}

/**
 * The key a source address is counted under: IPv4 as it is (an IPv4-mapped IPv6 address as its IPv4),
 * IPv6 by its /64, since one host commonly holds a whole /64 and could otherwise rotate through it.
 */
export function sourceKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const a = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (!isIPv6(a) || a === '::1') return a;
  const [head = '', tail = ''] = a.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}
