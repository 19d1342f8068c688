import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { EventFeedWriter } from './events.js';

/** A response whose client reads only when told to (`read()` empties what was written). */
class SlowClient extends EventEmitter {
  writableLength = 0;
  received: string[] = [];
  private unsent: string[] = [];
  write(text: string): boolean {
    this.unsent.push(text);
    this.writableLength += text.length;
    return this.writableLength < 16;
  }
  read(): void {
    this.received.push(...this.unsent.splice(0));
    this.writableLength = 0;
    this.emit('drain');
  }
}

describe('EventFeedWriter', () => {
  it('writes at once while the client keeps up', () => {
    const c = new SlowClient();
    const feed = new EventFeedWriter(c, 100);
    for (let i = 0; i < 5; i++) feed.send('a', `a=${i};`);
    c.read();
    expect(c.received).toEqual(['a=0;', 'a=1;', 'a=2;', 'a=3;', 'a=4;']);
  });

  it("past its bound, keeps each key's newest change only, and sends them when the client has read", () => {
    const c = new SlowClient();
    const feed = new EventFeedWriter(c, 10);
    feed.send('a', 'a=0;');
    feed.send('b', 'b=0;');
    feed.send('a', 'a=1;'); // 12 bytes unsent: blocked from here
    expect(feed.blocked).toBe(true);
    for (let i = 2; i < 1000; i++) feed.send(i % 2 ? 'a' : 'b', `${i % 2 ? 'a' : 'b'}=${i};`);
    expect(feed.queued).toBe(2);
    expect(c.writableLength).toBe(12);
    c.read();
    c.read();
    expect(c.received).toEqual(['a=0;', 'b=0;', 'a=1;', 'b=998;', 'a=999;']);
    expect(feed.blocked).toBe(false);
  });
});
