/**
 * The active/standby state machine of instances sharing a store of asynchronous calls
 * (async/lease-keeper.ts), on a manual clock with a lease in memory that expires by that clock: a standby
 * takes the lease within one poll of its release and within the lease time (plus a poll) of its holder's
 * death; an active instance whose lease was taken, or that cannot renew it in time, stops writing at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LeaseKeeper,
  STANDBY_POLL_MS,
  WRITABLE_FRACTION,
  type LeaseBackend,
} from '../../src/async/lease-keeper.js';
import { ManualClock } from '../helpers/manual-clock.js';

const LEASE_MS = 3000;

/** One lease key, shared by the instances of a test, expiring by the manual clock. */
class SharedLease {
  holder: string | undefined;
  expires = 0;
  /** While set, every command fails (the store cannot be reached). */
  down = false;
  /** While set, a renewal hangs until `unhang` (a command waiting for its timeout). */
  hang = false;
  private hung: (() => void)[] = [];

  constructor(private readonly clock: ManualClock) {}

  unhang(): void {
    this.hang = false;
    for (const resolve of this.hung.splice(0)) resolve();
  }

  current(): string | undefined {
    if (this.holder !== undefined && this.expires <= this.clock.now()) this.holder = undefined;
    return this.holder;
  }

  backend(token: string): LeaseBackend {
    const check = (): void => {
      if (this.down) throw new Error('connection refused');
    };
    return {
      key: 'k:ls-1.lease',
      claim: async () => {
        check();
        const holder = this.current();
        if (holder !== undefined && holder !== token) return { taken: false, holder };
        this.holder = token;
        this.expires = this.clock.now() + LEASE_MS;
        return { taken: true };
      },
      renew: async () => {
        if (this.hang) await new Promise<void>((resolve) => this.hung.push(resolve));
        check();
        if (this.current() !== token) return false;
        this.expires = this.clock.now() + LEASE_MS;
        return true;
      },
      release: async () => {
        check();
        if (this.current() === token) this.holder = undefined;
      },
      close: async () => {},
    };
  }
}

interface Instance {
  keeper: LeaseKeeper;
  activations: number;
  losses: string[];
}

function instance(lease: SharedLease, clock: ManualClock, token: string): Instance {
  const out: Instance = { keeper: undefined as unknown as LeaseKeeper, activations: 0, losses: [] };
  out.keeper = new LeaseKeeper(lease.backend(token), LEASE_MS, clock, {
    activate: async () => {
      out.activations++;
    },
    deactivate: (why) => out.losses.push(why),
  });
  return out;
}

test('the first instance is active, a second is standby naming the holder; a release hands over within a poll', async () => {
  const clock = new ManualClock();
  const lease = new SharedLease(clock);
  const a = instance(lease, clock, 'host=a pid=1 x');
  const b = instance(lease, clock, 'host=b pid=2 y');
  await a.keeper.start();
  await b.keeper.start();
  assert.equal(a.keeper.role, 'active');
  assert.equal(a.activations, 1);
  assert.equal(b.keeper.role, 'standby');
  assert.equal(b.activations, 0);
  assert.match(b.keeper.describe(), /^standby: the store of asynchronous calls is held by host=a pid=1$/);
  assert.throws(() => b.keeper.assertWritable(), { code: 'ERR_ASYNC_STANDBY' });
  a.keeper.assertWritable();

  // Renewed every third of the lease: still active long after one lease time; b keeps polling.
  await clock.advance(5 * LEASE_MS);
  assert.equal(a.keeper.role, 'active');
  assert.equal(b.keeper.role, 'standby');

  await a.keeper.close();
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(b.keeper.role, 'active');
  assert.equal(b.activations, 1);
  b.keeper.assertWritable();
  await b.keeper.close();
});

test('a holder that died is replaced within the lease time and one poll, not before', async () => {
  const clock = new ManualClock();
  const lease = new SharedLease(clock);
  const dead = instance(lease, clock, 'host=a pid=1 x');
  const standby = instance(lease, clock, 'host=b pid=2 y');
  await dead.keeper.start();
  await standby.keeper.start();
  await dead.keeper.close(); // stop its timers ...
  lease.holder = 'host=a pid=1 x'; // ... but as after kill -9: the lease stays until it expires
  lease.expires = clock.now() + LEASE_MS;
  await clock.advance(LEASE_MS - STANDBY_POLL_MS);
  assert.equal(standby.keeper.role, 'standby');
  await clock.advance(2 * STANDBY_POLL_MS);
  assert.equal(standby.keeper.role, 'active');
  assert.equal(standby.activations, 1);
  await standby.keeper.close();
});

test('an active instance whose lease was taken stops writing at its next renewal and becomes standby', async () => {
  const clock = new ManualClock();
  const lease = new SharedLease(clock);
  const a = instance(lease, clock, 'host=a pid=1 x');
  await a.keeper.start();
  lease.holder = 'host=c pid=3 z'; // taken (e.g. an operator deleted the key and another claimed it)
  await clock.advance(LEASE_MS / 3);
  assert.equal(a.keeper.role, 'standby');
  assert.equal(a.losses.length, 1);
  assert.match(a.losses[0]!, /taken by another instance or expired/);
  assert.throws(() => a.keeper.assertWritable(), { code: 'ERR_ASYNC_STANDBY' });
  await clock.advance(STANDBY_POLL_MS);
  assert.match(a.keeper.describe(), /held by host=c pid=3/);
  // The other holder goes away: a takes the lease again and loads the tables afresh.
  lease.holder = undefined;
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(a.keeper.role, 'active');
  assert.equal(a.activations, 2);
  await a.keeper.close();
});

test('an active instance that cannot renew stops writing before its lease may be taken', async () => {
  const clock = new ManualClock();
  const lease = new SharedLease(clock);
  const a = instance(lease, clock, 'host=a pid=1 x');
  await a.keeper.start();
  lease.down = true;
  await clock.advance(LEASE_MS / 3);
  assert.equal(a.keeper.role, 'active', 'one failed renewal is not yet a loss');
  a.keeper.assertWritable();
  await clock.advance(LEASE_MS / 3);
  // Two thirds of the lease (WRITABLE_FRACTION) without a renewal: no writes, standby; the rest is the margin.
  assert.equal(a.keeper.role, 'standby');
  assert.equal(a.losses.length, 1);
  assert.match(a.losses[0]!, /could not be renewed in time: connection refused/);
  assert.ok(clock.now() < lease.expires, 'stopped while the lease was still ours in the store');
  lease.down = false;
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(a.keeper.role, 'active', 'the lease still named it: taken again');
  await a.keeper.close();
});

test('a load that fails gives the lease up: at start the eps does not start; later it waits a lease time', async () => {
  const clock = new ManualClock();
  const lease = new SharedLease(clock);
  let fail = true;
  let activations = 0;
  let deactivations = 0;
  const make = (): LeaseKeeper =>
    new LeaseKeeper(lease.backend('host=a pid=1 x'), LEASE_MS, clock, {
      activate: async () => {
        activations++;
        if (fail) throw new Error('HGETALL failed');
      },
      deactivate: () => deactivations++,
    });
  const first = make();
  await assert.rejects(first.start(), /HGETALL failed/);
  assert.equal(lease.current(), undefined, 'released');
  assert.equal(deactivations, 1);
  await first.close();

  // Standby at start (another holds it); the load fails when it takes over: released, one lease time of rest.
  lease.holder = 'host=b pid=2 y';
  lease.expires = clock.now() + LEASE_MS;
  const later = make();
  await later.start();
  assert.equal(later.role, 'standby');
  lease.holder = undefined;
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(activations, 2);
  assert.equal(later.role, 'standby');
  assert.equal(lease.current(), undefined, 'released again');
  fail = false;
  await clock.advance(LEASE_MS - 2 * STANDBY_POLL_MS);
  assert.equal(activations, 2, 'no claim while resting');
  await clock.advance(2 * STANDBY_POLL_MS);
  assert.equal(later.role, 'active');
  assert.equal(activations, 3);
  await later.close();
});

test('a renewal that hangs: standby (deactivated) the moment writes stop, not when the renewal ends', async () => {
  const clock = new ManualClock();
  const lease = new SharedLease(clock);
  const a = instance(lease, clock, 'host=a pid=1 x');
  await a.keeper.start();
  lease.hang = true;
  await clock.advance(LEASE_MS / 3); // the renewal begins and hangs (as one waiting for its timeout)
  assert.equal(a.keeper.role, 'active');
  a.keeper.assertWritable();
  await clock.advance(LEASE_MS * WRITABLE_FRACTION - LEASE_MS / 3 - 1);
  a.keeper.assertWritable();
  assert.equal(a.losses.length, 0);
  await clock.advance(1);
  // Writes stop at WRITABLE_FRACTION of the lease, and so does the work: deactivated at the same instant.
  assert.throws(() => a.keeper.assertWritable(), { code: 'ERR_ASYNC_STANDBY' });
  assert.equal(a.keeper.role, 'standby');
  assert.equal(a.losses.length, 1);
  assert.match(a.losses[0]!, /could not be renewed in time: no answer yet/);
  assert.ok(clock.now() < lease.expires, 'stopped while the lease was still ours in the store');
  lease.unhang(); // the late renewal succeeds: it does not make the instance active again by itself
  await clock.advance(1);
  assert.equal(a.keeper.role, 'standby');
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(a.keeper.role, 'active', 'the lease still named it: taken again by a claim');
  assert.equal(a.activations, 2);
  await a.keeper.close();
});

test('a write refused by the store: standby at once, one loss, and it polls again within a poll', async () => {
  const clock = new ManualClock();
  const lease = new SharedLease(clock);
  const a = instance(lease, clock, 'host=a pid=1 x');
  await a.keeper.start();
  lease.holder = 'host=c pid=3 z'; // taken; a has not renewed since
  const error = a.keeper.refused('host=c pid=3 z');
  assert.equal(error.code, 'ERR_ASYNC_STANDBY');
  assert.match(error.message, /held by host=c pid=3; try the active instance/);
  assert.equal(a.keeper.role, 'standby');
  assert.deepEqual(a.losses, ['a write was refused by the store: the lease is held by host=c pid=3']);
  a.keeper.refused('host=c pid=3 z'); // a second write refused the same way: no second change of state
  assert.equal(a.losses.length, 1);
  lease.holder = undefined; // c stopped
  await clock.advance(STANDBY_POLL_MS);
  assert.equal(a.keeper.role, 'active', 'polled as a standby, not at the renewal that was due');
  assert.equal(a.activations, 2);
  await a.keeper.close();
});
