/** SerialQueue: tasks run one at a time in call order; a failing task does not block the next. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialQueue } from '../../src/core/serial.js';

test('tasks run one at a time, in call order, even when earlier ones take longer', async () => {
  const queue = new SerialQueue();
  const log: string[] = [];
  let running = 0;
  const task = (name: string, turns: number) => async (): Promise<string> => {
    running++;
    assert.equal(running, 1, 'never two at once');
    log.push(`start ${name}`);
    for (let i = 0; i < turns; i++) await Promise.resolve();
    log.push(`end ${name}`);
    running--;
    return name;
  };
  const results = await Promise.all([
    queue.run(task('a', 5)),
    queue.run(task('b', 0)),
    queue.run(task('c', 2)),
  ]);
  assert.deepEqual(results, ['a', 'b', 'c']);
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
});

test('a failing task rejects its own run and the next task still runs', async () => {
  const queue = new SerialQueue();
  const failing = queue.run(async () => {
    throw new Error('task failed');
  });
  const next = queue.run(async () => 'next ran');
  await assert.rejects(failing, /task failed/);
  assert.equal(await next, 'next ran');
  const sync = queue.run(() => {
    throw new Error('thrown before any await');
  });
  await assert.rejects(sync, /thrown before any await/);
  assert.equal(await queue.run(async () => 'after'), 'after');
});

test('busy is true while a task runs or waits, false once all are done', async () => {
  const queue = new SerialQueue();
  assert.equal(queue.busy, false);
  let release!: () => void;
  const first = queue.run(() => new Promise<void>((resolve) => (release = resolve)));
  const second = queue.run(async () => undefined);
  assert.equal(queue.busy, true);
  await Promise.resolve();
  release();
  await Promise.all([first, second]);
  await Promise.resolve();
  assert.equal(queue.busy, false);
});
