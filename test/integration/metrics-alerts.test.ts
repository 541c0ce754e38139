/**
 * Issue 13 alerting metrics on real processes, and the example alert file against them: the seed's P2P
 * network (hd-1 calls hd-2 through public-proxy-1.ga) with metrics listeners on the eps nodes and the public
 * proxy, and an sd. The calls, tunnels, reverse streams, brokering, relayed bytes and a gateway refusal are
 * read from /metrics; the tunnel gauge goes back down when the proxy stops. deploy/prometheus/eps-alerts.yml
 * parses, each of its expressions names only metrics these processes export, and `promtool check rules`
 * passes (skipped, with a warning, when promtool is not installed: `apt-get install prometheus`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { gatewayRequest, metricsText, type TestNetwork } from '../helpers/network.js';
import { p2pNetwork, PROXY_OPERATOR as P } from '../helpers/p2p-network.js';
import { freePort, REPO_ROOT, type Running } from '../helpers/processes.js';
import { startSd, writeSdSettings, type RunningSd } from '../helpers/sd-harness.js';
import { waitFor } from '../helpers/wait.js';

const ALERTS = join(REPO_ROOT, 'deploy/prometheus/eps-alerts.yml');

/** The value of one series in Prometheus text (`name{labels}` exactly as exported, labels sorted by prom-client). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Sum of the series of `name` whose label text contains every one of `parts` (e.g. 'peer="hd-2"'). */
function total(text: string, name: string, ...parts: string[]): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '))
    .filter((l) => parts.every((p) => l.includes(p)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Metric names a scrape exports (with the _bucket/_sum/_count series of histograms and summaries). */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or durations. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const words = [...stripped.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)\b(?!\s*\()/g)].map((m) => m[1]!);
  return words.filter((w) => !PROMQL_WORDS.has(w));
}

interface Rule {
  alert: string;
  expr: string;
}

describe('alerting metrics of real eps, proxy and sd processes', () => {
  let net: TestNetwork;
  let proxy: Running;
  let sd: RunningSd;
  let sdDir = '';
  const ports: Record<string, number> = {};
  let proxyMetrics = 0;
  let sdMetrics = 0;
  let hdGateway = 0;

  before(async () => {
    for (const name of ['hd-1', 'hd-2', P]) ports[name] = await freePort();
    let proxyDir: string;
    ({ net, proxyDir } = await p2pNetwork(true, ports));
    proxyMetrics = await freePort();
    const file = join(proxyDir, '001_default.json');
    const settings = JSON.parse(readFileSync(file, 'utf8')) as object;
    writeFileSync(
      file,
      JSON.stringify({ ...settings, metrics: { bind_address: `127.0.0.1:${proxyMetrics}` } }),
    );
    await net.start('hd-1');
    await net.start('hd-2');
    const operator = await net.start(P);
    proxy = await net.startProxy('public', proxyDir);
    hdGateway = net.ports.get('hd-1')!.gateway;
    await operator.waitFor(/reverse stream registered" peer=hd-2/);
    sdMetrics = await freePort();
    sdDir = mkdtempSync(join(tmpdir(), 'eps-alerts-sd-'));
    sd = await startSd(
      writeSdSettings(join(sdDir, 'sd'), {
        store: { type: 'file', filename: join(sdDir, 'records') },
        metricsPort: sdMetrics,
      }),
    );
  });

  after(async () => {
    await sd?.stop();
    await net?.stop();
    if (sdDir) rmSync(sdDir, { recursive: true, force: true });
  });

  test('a P2P call shows in calls, brokering, tunnels, reverse streams and relayed bytes', async () => {
    const call = { jsonrpc: '2.0', method: 'hd-2._ping', params: {}, id: '1' };
    const r = await gatewayRequest(hdGateway, call);
    assert.equal(r.status, 200, r.text);
    const hd1 = await metricsText(ports['hd-1']!);
    assert.ok(
      sample(hd1, 'eps_calls_total{direction="out",peer="hd-2",method="_ping",status="ok"}') >= 1,
      hd1,
    );
    assert.ok(total(hd1, 'eps_call_duration_seconds_count', 'peer="hd-2"', 'method="_ping"') >= 1);
    assert.ok(total(hd1, 'eps_p2p_brokering_duration_seconds_count', `proxy="${P}"`, 'outcome="ok"') >= 1);
    assert.equal(sample(hd1, 'eps_p2p_tunnels_open{side="caller"}'), 1);
    assert.ok(total(hd1, 'tls_certificate_expiry_timestamp_seconds') > Date.now() / 1000);

    const hd2 = await metricsText(ports['hd-2']!);
    assert.ok(
      sample(hd2, 'eps_calls_total{direction="in",peer="hd-1",method="_ping",status="ok"}') >= 1,
      hd2,
    );
    assert.equal(sample(hd2, 'eps_p2p_tunnels_open{side="callee"}'), 1);
    assert.equal(sample(hd2, 'eps_reverse_streams_open{side="dialled"}'), 1);
    const operator = await metricsText(ports[P]!);
    assert.ok(
      sample(operator, 'eps_reverse_streams_open{side="accepted"}') >= 2,
      'hd-1 and hd-2 keep one each',
    );

    const relayed = await metricsText(proxyMetrics);
    assert.ok(total(relayed, 'proxy_relayed_bytes_total', 'kind="p2p"', 'direction="up"') > 0, relayed);
    assert.ok(total(relayed, 'proxy_relayed_bytes_total', 'kind="p2p"', 'direction="down"') > 0);
    assert.ok(sample(relayed, 'proxy_state{proxy="public",item="tokenLimit"}') > 0);
    assert.equal(sample(relayed, 'readiness_ready'), 1);
  });

  test('a method hd-2 does not declare counts as other, denied; never under its own name', async () => {
    const r = await gatewayRequest(hdGateway, {
      jsonrpc: '2.0',
      method: 'hd-2.probe-x1',
      params: {},
      id: '2',
    });
    assert.equal(r.status, 400, r.text);
    const hd2 = await metricsText(ports['hd-2']!);
    assert.ok(
      sample(hd2, 'eps_calls_total{direction="in",peer="hd-1",method="other",status="denied"}') >= 1,
      hd2,
    );
    assert.ok(!hd2.includes('probe-x1'));
  });

  test("another operator's certificate at the gateway counts as a gateway pinning refusal", async () => {
    const series = 'tls_peer_refusals_total{path="gateway",reason="ERR_CERT_PEER_OTHER_OPERATOR"}';
    const before = sample(await metricsText(ports['hd-1']!), series);
    await assert.rejects(
      gatewayRequest(hdGateway, { jsonrpc: '2.0', method: 'hd-1._ping', params: {}, id: 1 }, { as: 'hd-2' }),
    );
    assert.equal(sample(await metricsText(ports['hd-1']!), series), before + 1);
  });

  test('every expression of the example alert file names only metrics these processes export', async () => {
    const exported = new Set<string>();
    for (const port of [...Object.values(ports), proxyMetrics, sdMetrics]) {
      for (const name of exportedNames(await metricsText(port))) exported.add(name);
    }
    const file = parse(readFileSync(ALERTS, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
    const rules = file.groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 10, `${rules.length} rules`);
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      assert.ok(names.length > 0, `${rule.alert}: no metric in ${rule.expr}`);
      for (const name of names)
        assert.ok(exported.has(name), `${rule.alert}: ${name} is exported by no process`);
    }
    for (const needed of [
      'readiness_ready',
      'eps_directory_age_seconds',
      'tls_peer_refusals_total',
      'sd_store_read_errors_total',
    ]) {
      assert.ok(exported.has(needed), needed);
    }
  });

  test('the tunnel gauges go back to 0 when the proxy stops', async () => {
    // Killed: a SIGTERM holds the idle tunnel for the 5 s drain and then cuts it; either way both ends see
    // the tunnel's connection close, which is what ends their gauges (draining: proxy-drain.test.ts).
    await proxy.stop('SIGKILL');
    await waitFor(
      async () => sample(await metricsText(ports['hd-1']!), 'eps_p2p_tunnels_open{side="caller"}') === 0,
      { timeoutMs: 10_000, what: "hd-1's caller tunnel to close" },
    );
    await waitFor(
      async () => sample(await metricsText(ports['hd-2']!), 'eps_p2p_tunnels_open{side="callee"}') === 0,
      { timeoutMs: 10_000, what: "hd-2's callee tunnel to close" },
    );
  });
});

test('the alert expressions parse into the metric names they use', () => {
  assert.deepEqual(
    metricNames(
      'sum by (instance, peer) (rate(eps_calls_total{status=~"error|failed"}[10m])) / ignoring (item) group_left () proxy_state{item="x"} > 0.05 and time() - tls_x < 14 * 86400',
    ),
    ['eps_calls_total', 'proxy_state', 'tls_x'],
  );
});

test('promtool check rules accepts the example alert file', (t) => {
  const which = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (which.error !== undefined) {
    process.stderr.write(
      'WARNING: promtool not installed (apt-get install prometheus); alert file not checked by it\n',
    );
    t.skip('promtool not installed (apt-get install prometheus)');
    return;
  }
  const run = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /SUCCESS: \d+ rules found/);
});
