// A clock the test moves by hand: `advance(ms)` runs every timer that falls due, in order.

import type { Clock } from "../clock";

interface Timer {
  id: number;
  at: number;
  every: number | null;
  fn: () => void;
}

export class FakeClock implements Clock {
  private t: number;
  private timers: Timer[] = [];
  private next = 1;

  constructor(start = Date.UTC(2026, 0, 15, 3, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return this.add(fn, ms, null);
  }
  setInterval(fn: () => void, ms: number): unknown {
    return this.add(fn, ms, Math.max(1, ms));
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  clearInterval(handle: unknown): void {
    this.clearTimeout(handle);
  }
  /** How many timers are waiting (a screen that left must leave none behind). */
  get pending(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = due.at;
      if (due.every === null) this.timers = this.timers.filter((x) => x !== due);
      else due.at += due.every;
      due.fn();
    }
    this.t = end;
  }

  private add(fn: () => void, ms: number, every: number | null): number {
    const id = this.next++;
    this.timers.push({ id, at: this.t + Math.max(0, ms), every, fn });
    return id;
  }
}
