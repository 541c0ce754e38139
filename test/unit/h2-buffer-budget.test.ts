/**
 * The accounting of unread received data on plain values: nested budgets (connection inside process), and
 * the gRPC message queues that report consumption (what gives a stream's window back).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferBudget, PROCESS_BUFFER_BUDGET } from '../../src/grpc/h2/buffer-budget.js';
import { MAX_PROCESS_BUFFERED_BYTES } from '../../src/grpc/h2/limits.js';
import { frame, MessageInbox, MessageReader, UnaryMessage } from '../../src/grpc/framing.js';

test('a budget charges up to its maximum and refuses what does not fit, leaving it unchanged', () => {
  const budget = new BufferBudget(100, 'this connection');
  assert.equal(budget.charge(60), undefined);
  assert.equal(budget.charge(41), budget, 'refused: names the budget that is exceeded');
  assert.equal(budget.used, 60);
  assert.equal(budget.charge(40), undefined, 'exactly the maximum fits');
  budget.refund(100);
  assert.equal(budget.used, 0);
  assert.equal(budget.peak, 100);
});

test('nested budgets: a connection charges the process too; the innermost exceeded budget is named', () => {
  const process = new BufferBudget(150, 'this process');
  const a = new BufferBudget(100, 'this connection', process);
  const b = new BufferBudget(100, 'this connection', process);
  assert.equal(a.charge(100), undefined);
  assert.equal(a.charge(1), a, 'over its own bound');
  assert.equal(b.charge(60), process, 'within its own bound, over the process bound');
  assert.equal(b.used, 0, 'a refused charge takes nothing from any level');
  assert.equal(process.used, 100);
  assert.equal(b.charge(50), undefined);
  a.refund(100);
  assert.equal(process.used, 50, 'refunds reach the process budget');
  assert.ok(process.peak <= process.max);
});

test('the process budget is the named limit', () => {
  assert.equal(PROCESS_BUFFER_BUDGET.max, MAX_PROCESS_BUFFERED_BYTES);
  assert.equal(PROCESS_BUFFER_BUDGET.name, 'this process');
});

test('a streaming inbox reports a message consumed only when a listener takes it', () => {
  const consumed: number[] = [];
  const inbox = new MessageInbox((n) => consumed.push(n));
  const reader = new MessageReader();
  const wire = Buffer.concat([frame(Buffer.from('abc')), frame(Buffer.from('de'))]);
  inbox.push(reader, wire.subarray(0, 6));
  inbox.push(reader, wire.subarray(6));
  assert.deepEqual(consumed, [], 'no listener: nothing consumed, the window stays used');
  assert.equal(inbox.waitingCount, 2);
  const got: string[] = [];
  inbox.onMessage((m) => got.push(m.toString()));
  assert.deepEqual(got, ['abc', 'de']);
  assert.deepEqual(consumed, [8, 7], 'each message with its 5-byte prefix');
});

test('a paused inbox keeps messages (in order) until resumed', () => {
  const consumed: number[] = [];
  const inbox = new MessageInbox((n) => consumed.push(n));
  const reader = new MessageReader();
  const got: string[] = [];
  inbox.onMessage((m) => {
    got.push(m.toString());
    if (got.length === 1) inbox.pause(); // a listener may pause from inside
  });
  inbox.push(reader, Buffer.concat([frame(Buffer.from('1')), frame(Buffer.from('2'))]));
  inbox.push(reader, frame(Buffer.from('3')));
  assert.deepEqual(got, ['1']);
  assert.deepEqual(consumed, [6]);
  inbox.resume();
  assert.deepEqual(got, ['1', '2', '3']);
  assert.deepEqual(consumed, [6, 6, 6]);
});

test('a unary message is consumed as soon as it is complete', () => {
  const consumed: number[] = [];
  const unary = new UnaryMessage(new MessageReader(), (n) => consumed.push(n));
  const wire = frame(Buffer.alloc(1000, 1));
  unary.push(wire.subarray(0, 500));
  assert.deepEqual(consumed, [], 'a partial message holds its bytes');
  unary.push(wire.subarray(500));
  assert.deepEqual(consumed, [1005]);
  assert.equal(unary.single()?.length, 1000);
});

test('a message split into chunks of every size, down to single bytes, is reassembled exactly', () => {
  const reader = new MessageReader();
  const messages = [Buffer.alloc(50_000, 1), Buffer.from('x'), Buffer.alloc(3000, 3), Buffer.alloc(0)];
  messages[0]!.fill(9, 20_000, 20_100);
  const wire = Buffer.concat(messages.map((m) => frame(m)));
  const sizes = [1, 1, 1, 2, 700, 1, 1, 5000, 1, 1023, 1024, 1, 16_384, 3];
  const out: Buffer[] = [];
  let pos = 0;
  for (let i = 0; pos < wire.length; i++) {
    const n = sizes[i % sizes.length]!;
    // Each chunk is a view of a larger buffer, as DATA payloads are views of socket reads.
    out.push(...reader.push(Buffer.concat([Buffer.alloc(7), wire.subarray(pos, pos + n)]).subarray(7)));
    pos += n;
  }
  assert.deepEqual(out, messages);
  assert.equal(reader.pendingBytes, 0);
});
