/**
 * The output side's deadline (CVE-2019-9517, "internal data buffering"): a peer that asks for large
 * answers and then stops reading leaves them queued with us. While output waits - socket writes not yet
 * taken by the transport, or stream data held back by a connection window the peer does not reopen -
 * progress is a write the transport completes while the socket is backed up, or stream data leaving in
 * DATA frames (FrameWriter reports both); with none for `stallMs`, `onStall` runs and the connection
 * ends. A slow peer that keeps reading moves the deadline with each write it takes; replies to its PINGs
 * do not count. Data held back only by one stream's window is that stream's flow control, not a stall.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';

/** What the watch asks of the connection's output. */
export interface PendingOutput {
  /** Output waits for the peer: unfinished socket writes, or data blocked on the connection window. */
  waiting(): boolean;
}

export class WriteStallWatch {
  private timer: TimerHandle | undefined;
  /** Clock time of the last progress (or of the moment the output began to wait). */
  private progressAt = 0;
  private stopped = false;
  private readonly fireBound = (): void => this.fire();
  private readonly confirmBound = (): void => this.fire(true);

  constructor(
    private readonly clock: Clock,
    private readonly stallMs: number,
    private readonly output: PendingOutput,
    private readonly onStall: (stalledMs: number) => void,
  ) {}

  /** Output was queued or is blocked: the deadline starts now unless it is already running. */
  arm(): void {
    if (this.timer || this.stopped || !this.output.waiting()) return;
    this.progressAt = this.clock.now();
    this.schedule(this.stallMs);
  }

  /** The transport took a backed-up write, or stream data went out: the deadline restarts from now. */
  progress(): void {
    this.progressAt = this.clock.now();
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    this.timer = this.clock.setTimeout(this.fireBound, ms);
    this.timer.unref();
  }

  /**
   * `confirmed`: the deadline had passed at the previous firing, one poll phase ago. Timers run before
   * I/O callbacks, so after the event loop was blocked, completions that are already in have not been
   * seen yet: the stall is declared only if the deadline still stands after them.
   */
  private fire(confirmed = false): void {
    this.timer = undefined;
    if (this.stopped || !this.output.waiting()) return;
    const since = this.clock.now() - this.progressAt;
    if (since < this.stallMs) return this.schedule(this.stallMs - since);
    if (!confirmed) {
      this.timer = this.clock.setTimeout(this.confirmBound, 0);
      return;
    }
    this.stop();
    this.onStall(since);
  }
}
