/**
 * Several public proxies per operator: reading `proxy` + `proxies` from a directory entry (original-shaped
 * records, malformed lists), the caller's latency order (EWMA on a manual clock) and failover to the next
 * proxy within the deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PROXIES, proxyList } from '../../src/directory/proxy-list.js';
import { grpcServerSettings } from '../../src/directory/permissions.js';
import { newEntry } from '../../src/core/directory-entry.js';
import type { JsonObject } from '../../src/core/json.js';
import { Deadline } from '../../src/core/deadline.js';
import {
  brokerThroughProxies,
  BrokeringError,
  EWMA_WEIGHT,
  FAILURE_PENALTY_MS,
  ATTEMPT_CAP_FACTOR,
  MAX_MEASURED_PROXIES,
  MIN_ATTEMPT_MS,
  ProxyLatency,
  UNMEASURED_ATTEMPT_MS,
} from '../../src/channels/p2p/proxy-choice.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { registry } from '../../src/metrics/server.js';

const P1 = 'public-proxy-1.ga';
const P2 = 'public-proxy-2.ga';
const P3 = 'public-proxy-3.ga';

test('an original-shaped entry (only `proxy`) names one proxy; no proxy means direct', () => {
  assert.deepEqual(proxyList({ address: 'h:1', proxy: P1 }), { proxies: [P1] });
  assert.deepEqual(proxyList({ address: 'h:1' }), { proxies: [] });
  assert.deepEqual(proxyList({ address: 'h:1', proxy: P1, proxies: [] }), { proxies: [P1] });
  assert.deepEqual(proxyList({ address: 'h:1', proxy: P1, proxies: null }), { proxies: [P1] });
});

test('`proxies` follows `proxy`, in the operator order', () => {
  assert.deepEqual(proxyList({ proxy: P1, proxies: [P2, P3] }), { proxies: [P1, P2, P3] });
  const entry = newEntry('hd-2');
  entry.channels = [{ type: 'grpc_server', settings: { address: 'h:1', proxy: P1, proxies: [P2] } }];
  assert.deepEqual(grpcServerSettings(entry), {
    address: 'h:1',
    internal: false,
    proxy: P1,
    proxies: [P1, P2],
  });
});

test('a malformed `proxies` gets a clear error and falls back to `proxy` only', () => {
  const cases: [JsonObject, RegExp][] = [
    [{ proxy: P1, proxies: P2 }, /proxies must be a list of operator names, not a string/],
    [{ proxy: P1, proxies: { a: P2 } }, /must be a list of operator names, not an object/],
    [
      { proxy: P1, proxies: [P2, 7] },
      /proxies\[1\] must be an operator name \(a non-empty string\), not a number/,
    ],
    [{ proxy: P1, proxies: [''] }, /proxies\[0\] must be an operator name .*not an empty string/],
    [{ proxy: P1, proxies: [P2, P2] }, /proxies\[1\] names 'public-proxy-2.ga' twice/],
    [{ proxy: P1, proxies: [P1] }, /proxies\[0\] names 'public-proxy-1.ga' twice \(counting `proxy`\)/],
    [{ proxies: [P2] }, /needs `proxy` \(the first proxy, which original nodes use\) to be set/],
    [
      { proxy: P1, proxies: Array.from({ length: MAX_PROXIES }, (_, i) => `p-${i}`) },
      new RegExp(`lists ${MAX_PROXIES} proxies; at most ${MAX_PROXIES - 1} besides`),
    ],
  ];
  for (const [settings, reason] of cases) {
    const list = proxyList(settings);
    assert.match(list.error ?? '', /^grpc_server\.settings\.proxies[ [\]]/, JSON.stringify(settings));
    assert.match(list.error ?? '', reason, JSON.stringify(settings));
    assert.deepEqual(list.proxies, typeof settings.proxy === 'string' ? [settings.proxy] : []);
  }
});

test('unmeasured proxies are tried first in the given order, then the lower average wins', () => {
  const latency = new ProxyLatency(new ManualClock());
  assert.deepEqual(latency.order([P1, P2, P3]), [P1, P2, P3]);
  latency.record(P1, 80);
  assert.deepEqual(latency.order([P1, P2, P3]), [P2, P3, P1]);
  latency.record(P2, 20);
  latency.record(P3, 50);
  assert.deepEqual(latency.order([P1, P2, P3]), [P2, P3, P1]);
  // The average moves by EWMA_WEIGHT of each new measurement: P2 slows down past P3.
  for (let i = 0; i < 10; i++) latency.record(P2, 200);
  assert.ok(latency.estimate(P2)! > 50);
  assert.equal(latency.estimate(P3), 50);
  assert.deepEqual(latency.order([P1, P2, P3]), [P3, P1, P2]);
  const before = latency.estimate(P3)!;
  latency.record(P3, 10);
  assert.equal(latency.estimate(P3), before + EWMA_WEIGHT * (10 - before));
});

test('the measurement table is bounded', () => {
  const latency = new ProxyLatency(new ManualClock());
  for (let i = 0; i <= MAX_MEASURED_PROXIES; i++) latency.record(`p-${i}`, i);
  assert.equal(latency.estimate('p-0'), undefined, 'the least recently measured was dropped');
  assert.equal(latency.estimate(`p-${MAX_MEASURED_PROXIES}`), MAX_MEASURED_PROXIES);
});

/** An attempt that takes `ms` on the manual clock, then succeeds or fails. */
function timedAttempts(clock: ManualClock, plan: Record<string, { ms: number; ok: boolean }>) {
  const tried: { proxy: string; budgetMs: number }[] = [];
  const attempt = async (proxy: string, deadline: Deadline): Promise<string> => {
    tried.push({ proxy, budgetMs: deadline.remainingMs() });
    const step = plan[proxy]!;
    await clock.advance(step.ms);
    if (!step.ok) throw new Error(`${proxy} refused`);
    return `tunnel via ${proxy}`;
  };
  return { tried, attempt };
}

test('the caller brokers through the proxy with the lower measured brokering time', async () => {
  const clock = new ManualClock();
  const latency = new ProxyLatency(clock);
  const { tried, attempt } = timedAttempts(clock, { [P1]: { ms: 90, ok: true }, [P2]: { ms: 15, ok: true } });
  const deadline = () => Deadline.after(10_000, clock);
  // First P1 (directory order), then P2 (not measured yet); each is measured on the clock.
  assert.equal(
    await brokerThroughProxies('hd-2', [P1, P2], latency, deadline(), attempt),
    `tunnel via ${P1}`,
  );
  assert.equal(
    await brokerThroughProxies('hd-2', [P1, P2], latency, deadline(), attempt),
    `tunnel via ${P2}`,
  );
  assert.equal(latency.estimate(P1), 90);
  assert.equal(latency.estimate(P2), 15);
  // From now on P2 is preferred, whatever order the entry lists them in.
  tried.length = 0;
  for (let i = 0; i < 3; i++) {
    assert.equal(
      await brokerThroughProxies('hd-2', [P1, P2], latency, deadline(), attempt),
      `tunnel via ${P2}`,
    );
  }
  assert.deepEqual(
    tried.map((t) => t.proxy),
    [P2, P2, P2],
  );
  assert.equal(latency.estimate(P2), 15);
});

test('a failed brokering moves on to the next proxy within the deadline and is penalised', async () => {
  const clock = new ManualClock();
  const latency = new ProxyLatency(clock);
  latency.record(P1, 10);
  latency.record(P2, 40);
  const { tried, attempt } = timedAttempts(clock, {
    [P1]: { ms: 100, ok: false },
    [P2]: { ms: 40, ok: true },
  });
  const deadline = Deadline.after(6_000, clock);
  assert.equal(await brokerThroughProxies('hd-2', [P1, P2], latency, deadline, attempt), `tunnel via ${P2}`);
  // P1 got half the deadline capped at MIN_ATTEMPT_MS (its average is 10 ms), P2 everything left.
  assert.deepEqual(tried, [
    { proxy: P1, budgetMs: MIN_ATTEMPT_MS },
    { proxy: P2, budgetMs: 5_900 },
  ]);
  assert.equal(latency.estimate(P1), 10 + EWMA_WEIGHT * (FAILURE_PENALTY_MS - 10));
  assert.deepEqual(latency.order([P1, P2]), [P2, P1], 'the failed proxy goes to the back');
  assert.ok(!deadline.expired);
  const metrics = await registry.metrics();
  assert.match(metrics, /eps_p2p_brokerings_total\{proxy="public-proxy-1.ga",outcome="failed"\} [1-9]/);
  assert.match(metrics, /eps_p2p_brokerings_total\{proxy="public-proxy-2.ga",outcome="ok"\} [1-9]/);
  assert.match(metrics, /eps_p2p_brokering_average_seconds\{proxy="public-proxy-1.ga"\} 9\.00/);
});

test('when every proxy fails the error names each one; an expired deadline tries no more', async () => {
  const clock = new ManualClock();
  const latency = new ProxyLatency(clock);
  const { tried, attempt } = timedAttempts(clock, { [P1]: { ms: 5, ok: false }, [P2]: { ms: 5, ok: false } });
  await assert.rejects(
    brokerThroughProxies('hd-2', [P1, P2], latency, Deadline.after(1_000, clock), attempt),
    (e) => {
      assert.ok(e instanceof BrokeringError);
      assert.equal(e.code, 'ERR_P2P_BROKERING');
      assert.equal(
        e.message,
        `no proxy of hd-2 could broker a tunnel (${P1}: ${P1} refused; ${P2}: ${P2} refused)`,
      );
      return true;
    },
  );
  assert.equal(tried.length, 2);
  const slow = timedAttempts(clock, { [P1]: { ms: 1_000, ok: false }, [P2]: { ms: 5, ok: true } });
  await assert.rejects(
    brokerThroughProxies(
      'hd-2',
      [P1, P2],
      new ProxyLatency(clock),
      Deadline.after(1_000, clock),
      slow.attempt,
    ),
    /no proxy of hd-2 could broker a tunnel \(public-proxy-1.ga: public-proxy-1.ga refused\)/,
  );
  assert.deepEqual(
    slow.tried.map((t) => t.proxy),
    [P1],
    'the deadline had passed: P2 was not tried',
  );
});

test('a proxy that accepts and never answers holds the call only for its attempt cap', async () => {
  const clock = new ManualClock();
  const tried: { proxy: string; budgetMs: number }[] = [];
  // P1 never answers: its attempt ends only when its deadline passes; P2 answers in 50 ms.
  const attempt = async (proxy: string, deadline: Deadline): Promise<string> => {
    tried.push({ proxy, budgetMs: deadline.remainingMs() });
    if (proxy === P2) {
      await clock.advance(50);
      return `tunnel via ${proxy}`;
    }
    await clock.advance(deadline.remainingMs());
    throw new Error(`${proxy}: deadline exceeded`);
  };
  const call = async (latency: ProxyLatency): Promise<number> => {
    const started = clock.now();
    assert.equal(
      await brokerThroughProxies('hd-2', [P1, P2, P3], latency, Deadline.after(30_000, clock), attempt),
      `tunnel via ${P2}`,
    );
    return clock.now() - started;
  };
  // Not measured yet: P1 gets UNMEASURED_ATTEMPT_MS, not a third of 30 s.
  assert.equal(await call(new ProxyLatency(clock)), UNMEASURED_ATTEMPT_MS + 50);
  assert.deepEqual(tried[0], { proxy: P1, budgetMs: UNMEASURED_ATTEMPT_MS });
  // Measured at 400 ms (and listed first), it gets ATTEMPT_CAP_FACTOR times that.
  const measured = new ProxyLatency(clock);
  measured.record(P1, 400);
  measured.record(P2, 500);
  measured.record(P3, 600);
  tried.length = 0;
  assert.equal(await call(measured), ATTEMPT_CAP_FACTOR * 400 + 50);
  assert.deepEqual(
    tried.map((t) => t.proxy),
    [P1, P2],
  );
  // The last proxy left still gets all the time there is.
  tried.length = 0;
  const only = await brokerThroughProxies(
    'hd-2',
    [P2],
    new ProxyLatency(clock),
    Deadline.after(30_000, clock),
    attempt,
  );
  assert.equal(only, `tunnel via ${P2}`);
  assert.deepEqual(tried, [{ proxy: P2, budgetMs: 30_000 }]);
});
