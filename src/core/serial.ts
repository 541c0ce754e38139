/**
 * Runs async tasks one at a time, in call order: a lock within one process (announcement updates in the
 * proxies, chain changes in the service directory). A failing task does not block the ones after it.
 * (datastore/file-lock.ts is the lock across processes.)
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private holders = 0;

  /** True while a task runs or waits. */
  get busy(): boolean {
    return this.holders > 0;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.holders++;
    const result = this.tail.then(task, task);
    this.tail = result.then(
      () => this.holders--,
      () => this.holders--,
    );
    return result;
  }
}
