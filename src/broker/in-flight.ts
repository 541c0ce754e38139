/**
 * How many requests the broker holds (taken, not yet answered), and waiting for that number to reach 0:
 * a graceful stop lets the calls in flight finish within a bound before it closes the channels.
 */
import { systemClock, type Clock } from '../core/clock.js';

export class InFlight {
  private count = 0;
  private idleWaiters: (() => void)[] = [];

  get size(): number {
    return this.count;
  }

  enter(): void {
    this.count++;
  }

  leave(): void {
    if (--this.count === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Resolves true once nothing is in flight, or false after `ms`. */
  whenIdle(ms: number, clock: Clock = systemClock): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clock.clearTimeout(timer);
        resolve(true);
      };
      const timer = clock.setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, ms);
      this.idleWaiters.push(wake);
    });
  }
}
