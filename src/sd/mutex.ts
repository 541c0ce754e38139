/** A minimal async mutex: one task at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  private holders = 0;

  /** True while a task runs or waits. */
  get busy(): boolean {
    return this.holders > 0;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.holders++;
    const result = this.tail.then(task);
    this.tail = result.then(
      () => this.holders--,
      () => this.holders--,
    );
    return result;
  }
}
