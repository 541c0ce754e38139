/**
 * Races of the lease keeper (async/lease-keeper.ts) around its claims, on a manual clock with a scripted
 * lease: an activation of an earlier claim that fails late, a refusal or an unknown outcome of a write sent
 * under an earlier claim, a claim in flight while closing, renewals while the first activation loads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseKeeper, STANDBY_POLL_MS, type LeaseBackend } from '../../src/async/lease-keeper.js';
import { ManualClock } from '../helpers/manual-clock.js';

const LEASE_MS = 3000;
const RENEW_MS = LEASE_MS / 3;

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

function deferred(): Deferred {
  const out = {} as Deferred;
  out.promise = new Promise<void>((resolve, reject) => Object.assign(out, { resolve, reject }));
  return out;
}

/** A lease whose answers the test sets; each claim taken gets a new token t1, t2, ... */
class ScriptedLease implements LeaseBackend {
  readonly key = 'k:{ls-1}.lease';
  renewOk = true;
  claimOk = true;
  /** While set, a claim waits for it (a claim in flight). */
  claimGate: Deferred | undefined;
  claims = 0;
  renewals = 0;
  releases = 0;
  closed = false;

  async claim(): Promise<{ taken: true; token: string } | { taken: false; holder: string | undefined }> {
    if (this.closed) throw new Error('claim on a closed connection');
    await this.claimGate?.promise;
    if (!this.claimOk) return { taken: false, holder: 'host=b pid=2 y' };
    this.claims++;
    return { taken: true, token: `t${this.claims}` };
  }

  async renew(): Promise<boolean> {
    this.renewals++;
    return this.renewOk;
  }

  async release(): Promise<void> {
    if (this.closed) throw new Error('release on a closed connection');
    this.releases++;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A keeper whose activations wait for the test when `gated` (else they resolve at once). */
function keeperOf(lease = new ScriptedLease(), clock = new ManualClock()) {
  const activations: Deferred[] = [];
  const losses: string[] = [];
  const state = { gated: false };
  const keeper = new LeaseKeeper(lease, LEASE_MS, clock, {
    activate: () => {
      const d = deferred();
      activations.push(d);
      if (!state.gated) d.resolve();
      return d.promise;
    },
    deactivate: (why) => losses.push(why),
  });
  return { keeper, activations, losses, state, lease, clock };
}

/** Loses the lease at the next renewal, then takes it again at the next poll. */
async function loseAndClaimAgain(lease: ScriptedLease, clock: ManualClock): Promise<void> {
  lease.renewOk = false;
  await clock.advance(RENEW_MS);
  lease.renewOk = true;
  await clock.advance(STANDBY_POLL_MS);
}

test('an activation of an earlier claim that fails late leaves the current claim active', async () => {
  const k = keeperOf();
  const { clock, lease } = k;
  await k.keeper.start();
  k.state.gated = true;
  await loseAndClaimAgain(lease, clock); // activation #2 loads ...
  await loseAndClaimAgain(lease, clock); // ... lost meanwhile; activation #3 loads
  assert.equal(k.keeper.role, 'active');
  assert.equal(k.activations.length, 3);
  k.activations[1]!.reject(new Error('read on Redis failed: Command timed out'));
  await clock.advance(0);
  assert.equal(k.keeper.role, 'active', 'the failure of the stale activation changes nothing');
  assert.equal(lease.releases, 0, 'the lease is kept');
  assert.equal(k.losses.length, 2);
  k.activations[2]!.resolve();
  // The current activation failing does give the lease up.
  await loseAndClaimAgain(lease, clock);
  k.activations[3]!.reject(new Error('read failed'));
  await clock.advance(0);
  assert.equal(k.keeper.role, 'standby');
  assert.equal(lease.releases, 1);
  await k.keeper.close();
});

test('a refusal or an unknown outcome of a write of an earlier claim leaves the current claim active', async () => {
  const k = keeperOf();
  const { clock, lease } = k;
  await k.keeper.start();
  assert.equal(k.keeper.token, 't1');
  await loseAndClaimAgain(lease, clock);
  assert.equal(k.keeper.token, 't2');
  assert.equal(k.losses.length, 1);
  for (const error of [k.keeper.refused(undefined, 't1'), k.keeper.unknownOutcome('timed out', 't1')]) {
    assert.equal(error.code, 'ERR_ASYNC_STANDBY');
    assert.match(error.message, /earlier activation of this instance/);
  }
  assert.equal(k.keeper.role, 'active');
  assert.equal(k.losses.length, 1);
  // The current claim's: standby at once, and taken again (new token, tables loaded anew) at the next poll.
  const error = k.keeper.unknownOutcome('Command timed out', 't2');
  assert.match(error.message, /outcome of a write to the store is unknown \(Command timed out\)/);
  assert.equal(k.keeper.role, 'standby');
  assert.match(k.losses[1]!, /outcome of a write is unknown \(Command timed out\); the tables are loaded/);
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(k.keeper.role, 'active');
  assert.equal(k.keeper.token, 't3');
  assert.equal(k.activations.length, 3);
  k.keeper.refused('host=b pid=2 y', 't3');
  assert.equal(k.keeper.role, 'standby');
  await k.keeper.close();
});

test('a claim in flight when closing is waited for: if it landed, the lease is released', async () => {
  const k = keeperOf();
  const { clock, lease } = k;
  lease.claimOk = false;
  await k.keeper.start();
  assert.equal(k.keeper.role, 'standby');
  lease.claimOk = true;
  lease.claimGate = deferred();
  await clock.advance(STANDBY_POLL_MS); // the claim is sent, its answer not yet here
  const closing = k.keeper.close();
  await clock.advance(0);
  assert.equal(lease.closed, false, 'the connection stays open for the claim in flight');
  lease.claimGate.resolve();
  await closing;
  assert.equal(lease.claims, 1);
  assert.equal(lease.releases, 1, 'the claim that landed was given back');
  assert.equal(lease.closed, true);
  assert.equal(k.activations.length, 0, 'no activation while closing');
});

test('the lease is renewed while the first activation loads for longer than the lease', async () => {
  const k = keeperOf();
  const { clock, lease } = k;
  k.state.gated = true;
  const started = k.keeper.start();
  await clock.advance(3 * LEASE_MS);
  assert.ok(lease.renewals >= 8, `renewed ${lease.renewals} times while loading`);
  assert.equal(k.keeper.role, 'active');
  assert.deepEqual(k.losses, []);
  k.activations[0]!.resolve();
  await started;
  k.keeper.assertWritable();
  await k.keeper.close();
});

test('a first activation that fails makes start fail and gives the lease up', async () => {
  const k = keeperOf();
  const { clock, lease } = k;
  k.state.gated = true;
  const started = k.keeper.start();
  await clock.advance(0);
  k.activations[0]!.reject(new Error('read failed'));
  await assert.rejects(started, /read failed/);
  assert.equal(k.keeper.role, 'standby');
  assert.equal(lease.releases, 1);
  assert.equal(clock.pending, 0, 'no claim scheduled after a failed start');
  await k.keeper.close();
});

test('a second unknown outcome within a lease gives the lease up and pauses claiming for a lease', async () => {
  const k = keeperOf();
  const { clock, lease } = k;
  await k.keeper.start();
  k.keeper.unknownOutcome('Command timed out', 't1');
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(k.keeper.token, 't2', 'the first one: taken again at the next poll, tables reloaded');
  assert.equal(lease.releases, 0);
  k.keeper.unknownOutcome('Command timed out', 't2');
  await clock.advance(0);
  assert.equal(k.keeper.role, 'standby');
  assert.equal(lease.releases, 1, 'the second one within a lease: the lease is given up');
  assert.match(k.losses[1]!, /unknown again within a lease/);
  await clock.advance(LEASE_MS - STANDBY_POLL_MS);
  assert.equal(lease.claims, 2, 'no claim for a lease (a standby takes it meanwhile)');
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(k.keeper.token, 't3');
  // Once more than a lease after the last one, an unknown outcome is a first one again.
  await clock.advance(LEASE_MS);
  k.keeper.unknownOutcome('Command timed out', 't3');
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(k.keeper.token, 't4');
  assert.equal(lease.releases, 1);
  await k.keeper.close();
});

test('close releases a lease kept while standby after an unknown outcome', async () => {
  const k = keeperOf();
  const { lease } = k;
  await k.keeper.start();
  k.keeper.unknownOutcome('Command timed out', 't1');
  assert.equal(k.keeper.role, 'standby');
  await k.keeper.close();
  assert.equal(lease.releases, 1, 'the lease (still ours) is released, not left to expire');
  assert.equal(lease.closed, true);
});

test('a first activation discarded before it fails does not make start fail', async () => {
  const k = keeperOf();
  const { clock, lease } = k;
  k.state.gated = true;
  const started = k.keeper.start();
  await clock.advance(0);
  k.keeper.unknownOutcome('Command timed out', 't1'); // e.g. a write of the outbox while loading
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(k.keeper.token, 't2');
  k.activations[0]!.reject(new Error('read failed'));
  k.activations[1]!.resolve();
  await started;
  assert.equal(k.keeper.role, 'active', 'the later claim stays active');
  assert.equal(lease.releases, 0);
  await k.keeper.close();
});
