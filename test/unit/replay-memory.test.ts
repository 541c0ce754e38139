/**
 * The replay memory (channels/replay-memory.ts) on a manual clock: a call received again joins the running
 * one or gets its answer; a retry whose original is unknown runs only when the memory proves it never saw
 * it (same instance, memory older than the original, nothing forgotten since), else it is refused; the
 * bounds (entries, answer bytes, window) forget the oldest first; malformed header values prove nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_REPLAY_BOUNDS,
  MAX_REPLAY_WAITERS,
  NOT_KEPT,
  ReplayMemory,
  type Admission,
  type ReplayBounds,
} from '../../src/channels/replay-memory.js';
import { parseRetry, retryValue, validToken } from '../../src/grpc/replay-headers.js';
import { ManualClock } from '../helpers/manual-clock.js';

const MARGIN = DEFAULT_REPLAY_BOUNDS.transitMarginMs;

/** A memory that has been running for a minute, with `bounds` overriding the defaults. */
async function oldMemory(
  bounds: Partial<ReplayBounds> = {},
): Promise<{ clock: ManualClock; memory: ReplayMemory }> {
  const clock = new ManualClock();
  const memory = new ReplayMemory(clock, { ...DEFAULT_REPLAY_BOUNDS, ...bounds });
  await clock.advance(60_000);
  return { clock, memory };
}

function ran(a: Admission | undefined): Extract<Admission, { kind: 'run' }> {
  assert.equal(a?.kind, 'run', a?.kind === 'refuse' ? a.reason : a?.kind);
  return a;
}

function replayed(a: Admission | undefined): Extract<Admission, { kind: 'replay' }> {
  assert.equal(a?.kind, 'replay', a?.kind === 'refuse' ? a.reason : a?.kind);
  return a;
}

function refused(a: Admission | undefined, reason: RegExp): void {
  assert.equal(a?.kind, 'refuse', a?.kind);
  assert.match(a.reason, reason);
}

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

test('a call received while the first with its token runs waits for that answer and does not run', async () => {
  const { memory } = await oldMemory();
  const first = ran(memory.admit('hd-1', 'tok1', undefined));
  const again = replayed(memory.admit('hd-1', 'tok1', retryValue(memory.instance, 10)));
  assert.equal(again.running, true);
  memory.settle(first.entry, bytes('answer'));
  assert.deepEqual(await again.answer, bytes('answer'));
});

test('a call received after the first finished gets a copy of its answer, or its error', async () => {
  const { memory } = await oldMemory();
  const answer = Buffer.from('the answer');
  const first = ran(memory.admit('hd-1', 'tok1', undefined));
  memory.settle(first.entry, answer);
  answer.fill(0); // the encoder's buffer may be reused: the memory keeps its own copy
  const again = replayed(memory.admit('hd-1', 'tok1', retryValue(memory.instance, 10)));
  assert.equal(again.running, false);
  assert.deepEqual(Buffer.from((await again.answer) as Uint8Array).toString(), 'the answer');
  const failing = ran(memory.admit('hd-1', 'tok2', undefined));
  const error = new Error('backend failed');
  memory.settle(failing.entry, error);
  assert.equal(await replayed(memory.admit('hd-1', 'tok2', undefined)).answer, error);
});

test('the key is the authenticated caller and the token: another operator with the same token is another call', async () => {
  const { memory } = await oldMemory();
  ran(memory.admit('hd-1', 'tok1', undefined));
  ran(memory.admit('xx-1', 'tok1', undefined));
  assert.equal(memory.size.entries, 2);
});

test('a retry whose original is unknown runs when the memory proves it never arrived', async () => {
  const { memory } = await oldMemory();
  const retry = ran(memory.admit('hd-1', 'lost', retryValue(memory.instance, 500)));
  assert.equal(retry.retry, true);
  // The original, arriving after its retry, gets the retry's answer.
  memory.settle(retry.entry, bytes('once'));
  assert.deepEqual(await replayed(memory.admit('hd-1', 'lost', undefined)).answer, bytes('once'));
});

test('a retry naming another instance (the server restarted) is refused', async () => {
  const { memory } = await oldMemory();
  const other = new ReplayMemory();
  refused(memory.admit('hd-1', 'tok', retryValue(other.instance, 10)), /another instance/);
});

test('a retry older than the memory (plus the transit margin) is refused', async () => {
  const clock = new ManualClock();
  const memory = new ReplayMemory(clock);
  await clock.advance(5_000);
  refused(memory.admit('hd-1', 'a', retryValue(memory.instance, 5_000 - MARGIN + 1)), /started after/);
  ran(memory.admit('hd-1', 'b', retryValue(memory.instance, 5_000 - MARGIN - 1)));
});

test('a retry is refused when a call that arrived after its original was forgotten (per-caller bound)', async () => {
  const { clock, memory } = await oldMemory({ entriesPerCaller: 2 });
  ran(memory.admit('hd-1', 'a', undefined)); // arrives at T
  const t = 10_000;
  await clock.advance(t);
  ran(memory.admit('hd-1', 'b', undefined));
  ran(memory.admit('hd-1', 'c', undefined)); // forgets 'a' (arrived at T)
  assert.equal(memory.size.entries, 2);
  // An original sent at or before T may be 'a'-like: forgotten, unprovable.
  refused(memory.admit('hd-1', 'x', retryValue(memory.instance, t - MARGIN)), /no longer remembered/);
  // One sent after T cannot have been forgotten.
  ran(memory.admit('hd-1', 'y', retryValue(memory.instance, t - MARGIN - 1)));
  // Another caller's retries are not affected by hd-1's bound.
  ran(memory.admit('ls-1', 'x', retryValue(memory.instance, t)));
});

test('the bound of all entries and the window forget the oldest, and both count as forgotten', async () => {
  const { clock, memory } = await oldMemory({ entries: 2 });
  ran(memory.admit('hd-1', 'a', undefined));
  await clock.advance(1_000);
  ran(memory.admit('ls-1', 'b', undefined));
  ran(memory.admit('ls-1', 'c', undefined)); // forgets hd-1's 'a' (hd-1 then has none)
  ran(memory.admit('hd-1', 'a', undefined)); // unknown again: runs as a new call
  refused(memory.admit('hd-1', 'x', retryValue(memory.instance, 1_000)), /no longer remembered/);
  await clock.advance(DEFAULT_REPLAY_BOUNDS.windowMs + 1);
  memory.admit('xx-1', 'later', undefined);
  assert.equal(memory.size.entries, 1, 'calls older than the window are forgotten');
  refused(
    memory.admit('ls-1', 'y', retryValue(memory.instance, DEFAULT_REPLAY_BOUNDS.windowMs)),
    /no longer remembered/,
  );
});

test('answer bytes are bounded: the oldest answers go first, a too large one is not kept', async () => {
  // Slabs of 1 byte: every answer has its own, so the bytes held are the answers' bytes.
  const { memory } = await oldMemory({ bytesPerCaller: 10, bytes: 15, keptAnswerBytes: 8, slabBytes: 1 });
  const settle = (caller: string, token: string, answer: string): void =>
    memory.settle(ran(memory.admit(caller, token, undefined)).entry, bytes(answer));
  settle('hd-1', 'a', '123456');
  settle('hd-1', 'b', '123456'); // the caller's 10 bytes: 'a's answer goes
  assert.equal(await replayed(memory.admit('hd-1', 'a', undefined)).answer, NOT_KEPT);
  settle('ls-1', 'c', '12345');
  settle('ls-1', 'd', '54321'); // 6 + 5 + 5 > 15 in all: the oldest answer ('b') goes
  assert.equal(await replayed(memory.admit('hd-1', 'b', undefined)).answer, NOT_KEPT);
  assert.deepEqual(await replayed(memory.admit('ls-1', 'c', undefined)).answer, bytes('12345'));
  assert.ok(memory.size.bytes <= 15);
  // Too large: not kept, but the call is known (a retry is told that it was processed).
  const large = ran(memory.admit('hd-1', 'big', undefined));
  const waiting = replayed(memory.admit('hd-1', 'big', undefined));
  memory.settle(large.entry, bytes('123456789'));
  assert.deepEqual(await waiting.answer, bytes('123456789'), 'a call already waiting still gets it');
  assert.equal(await replayed(memory.admit('hd-1', 'big', undefined)).answer, NOT_KEPT);
});

test('a running call that is forgotten still answers the calls waiting for it', async () => {
  const { memory } = await oldMemory({ entries: 1 });
  const first = ran(memory.admit('hd-1', 'a', undefined));
  const waiting = replayed(memory.admit('hd-1', 'a', undefined));
  ran(memory.admit('hd-1', 'b', undefined)); // forgets 'a' while it runs
  memory.settle(first.entry, bytes('late'));
  assert.deepEqual(await waiting.answer, bytes('late'));
  assert.equal(memory.size.bytes, 0, 'a forgotten call keeps no answer');
});

test('malformed header values: no token is no memory; a retry that cannot be checked is refused', async () => {
  const { memory } = await oldMemory();
  assert.equal(memory.admit('hd-1', undefined, undefined), undefined);
  assert.equal(memory.admit('hd-1', 'bad token', undefined), undefined);
  assert.equal(memory.admit('hd-1', 'x'.repeat(65), undefined), undefined);
  const ok = retryValue(memory.instance, 10);
  refused(memory.admit('hd-1', undefined, ok), /eps-call-token/);
  refused(memory.admit('hd-1', 'tok/', ok), /eps-call-token/);
  for (const bad of [
    'nonsense',
    memory.instance,
    `${memory.instance};`,
    `${memory.instance};-1`,
    `${memory.instance};1e3`,
    `${memory.instance};1234567890`,
    `${memory.instance}; 10`,
    `short;10`,
    `${'a'.repeat(65)};10`,
  ]) {
    refused(memory.admit('hd-1', 'tok', bad), /eps-retry/);
  }
  // A known token needs no proof: the answer is the first call's, whatever the retry header says.
  memory.settle(ran(memory.admit('hd-1', 'known', undefined)).entry, bytes('k'));
  assert.deepEqual(await replayed(memory.admit('hd-1', 'known', 'nonsense')).answer, bytes('k'));
  assert.deepEqual(parseRetry(`${memory.instance};42`), { instance: memory.instance, ageMs: 42 });
  assert.equal(validToken('AZaz09-_'), true);
});

test('calls waiting for one running call are bounded (a peer repeating a token cannot pile them up)', async () => {
  const { memory } = await oldMemory();
  const first = ran(memory.admit('hd-1', 'tok', undefined));
  const waiting = Array.from({ length: MAX_REPLAY_WAITERS }, () =>
    replayed(memory.admit('hd-1', 'tok', undefined)),
  );
  refused(memory.admit('hd-1', 'tok', undefined), /MAX_REPLAY_WAITERS/);
  memory.settle(first.entry, bytes('a'));
  for (const w of waiting) assert.deepEqual(await w.answer, bytes('a'));
});

test('answers are kept in slabs: the bound in all counts whole slabs, freed with their last answer', async () => {
  const { memory } = await oldMemory({ slabBytes: 10, bytes: 25, keptAnswerBytes: 10 });
  const settle = (token: string): void =>
    memory.settle(ran(memory.admit('hd-1', token, undefined)).entry, bytes(token.repeat(4)));
  settle('a');
  settle('b'); // slab 1: a, b
  settle('c'); // 2 bytes left: slab 2
  settle('d');
  assert.equal(memory.size.bytes, 20);
  settle('e'); // a third slab does not fit in 25: a and b go, and with them slab 1
  assert.equal(memory.size.bytes, 20);
  assert.equal(await replayed(memory.admit('hd-1', 'a', undefined)).answer, NOT_KEPT);
  assert.equal(await replayed(memory.admit('hd-1', 'b', undefined)).answer, NOT_KEPT);
  for (const t of ['c', 'd', 'e']) {
    assert.deepEqual(await replayed(memory.admit('hd-1', t, undefined)).answer, bytes(t.repeat(4)));
  }
});

test('an answer that comes after younger ones is not kept if a younger one would have to go', async () => {
  // The review's case: 'a' ends after 'b'; keeping it would drop 'b' (younger) and hide 'a' behind the
  // cursor, where the next drop walked off the list (TypeError while settling 'c').
  const { memory } = await oldMemory({ bytesPerCaller: 30, keptAnswerBytes: 20, slabBytes: 1 });
  const [a, b, c] = ['a', 'b', 'c'].map((t) => ran(memory.admit('hd-1', t, undefined)).entry);
  memory.settle(b!, bytes('b'.repeat(20)));
  memory.settle(a!, bytes('a'.repeat(15)));
  memory.settle(c!, bytes('c'.repeat(20)));
  assert.equal(await replayed(memory.admit('hd-1', 'a', undefined)).answer, NOT_KEPT);
  assert.equal(await replayed(memory.admit('hd-1', 'b', undefined)).answer, NOT_KEPT);
  assert.deepEqual(await replayed(memory.admit('hd-1', 'c', undefined)).answer, bytes('c'.repeat(20)));
});

test('answers settled in any order: every kept answer is found again and the bounds hold', async () => {
  const bounds = { entries: 24, entriesPerCaller: 10, bytes: 160, bytesPerCaller: 60, keptAnswerBytes: 40 };
  const { memory } = await oldMemory({ ...bounds, slabBytes: 32 });
  let seed = 12345;
  const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const running: { token: string; entry: Extract<Admission, { kind: 'run' }>['entry'] }[] = [];
  const settled: { token: string; entry: (typeof running)[0]['entry']; answer: Uint8Array | Error }[] = [];
  for (let i = 0; i < 3000; i++) {
    if (running.length < 6 && random(2) === 0) {
      const token = `t${i}`;
      running.push({ token, entry: ran(memory.admit(`op-${random(3)}`, token, undefined)).entry });
      continue;
    }
    const call = running.splice(random(running.length), 1)[0];
    if (call === undefined) continue;
    const size = 1 + random(45);
    const answer = random(5) === 0 ? new Error('e'.repeat(size)) : bytes(String(i).padEnd(size, 'x'));
    memory.settle(call.entry, answer);
    settled.push({ ...call, answer });
    assert.ok(memory.size.bytes <= bounds.bytes, `${memory.size.bytes} bytes held`);
  }
  let kept = 0;
  for (const { token, entry, answer } of settled) {
    if (entry.forgotten) continue;
    const got = await replayed(memory.admit(entry.caller.name, token, undefined)).answer;
    if (got === NOT_KEPT) continue;
    kept++;
    assert.deepEqual(got, answer);
  }
  assert.ok(kept > 0);
});
