/**
 * Issue 13, the dev network's status pages in a real browser: `npm run demo` (dist/src/demo/demo.js, kept
 * running) starts the dev network on its documented ports — sd-1, public-proxy-1 and -2, hd-1, hd-2 and
 * the proxies' eps nodes — uploads the records, pings hd-2 through hd-1 (P2P through a public proxy) and
 * once more with public-proxy-1 stopped. Headless Chromium then opens the pages of hd-1, hd-2, sd-1 and
 * the public proxies, checks the operators, peers, tunnels, records, chains and store they must show, and
 * saves screenshots (see SHOTS); sd-1's /status.json is checked field by field. The fixed dev
 * ports are shared with the other dev-network tests through lockDevPorts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Browser } from 'playwright-core';
import { lockDevPorts } from '../helpers/dev-ports-lock.js';
import { browserSkip, launchChromium, openStatusPage, sectionText } from '../helpers/browser.js';
import { REPO_ROOT, startProgram, type Running } from '../helpers/processes.js';
import { getPage } from '../helpers/status-network.js';

/** Metrics listeners of the dev roles (settings/dev/README.md, port map). */
const PORTS = { 'hd-1': 2112, 'hd-2': 2113, 'sd-1': 2120, 'public-proxy-1': 2121, 'public-proxy-2': 2122 };
const OPERATORS = [
  'hd-1',
  'hd-2',
  'ls-1',
  'op-1',
  'public-proxy-1.ga',
  'public-proxy-2.ga',
  'private-proxy-1.ga',
];
const THROUGH_A_PROXY = /p2p\s*through public-proxy-[12]\.ga/;

const skip = browserSkip('dev network status pages');
let release: (() => void) | undefined;
let demo: Running | undefined;
let browser: Browser;

/**
 * Screenshots go to the system's temporary folder, so that a test run leaves the checkout clean; with
 * EPS_UPDATE_SCREENSHOTS=1 they replace those of docs/images/ (shown by the README and docs/status.md).
 */
const SHOTS =
  process.env.EPS_UPDATE_SCREENSHOTS === '1'
    ? join(REPO_ROOT, 'docs/images')
    : join(tmpdir(), 'eps-screenshots');
mkdirSync(SHOTS, { recursive: true });
const shot = (name: string): string => join(SHOTS, name);

before(
  async () => {
    if (skip) return;
    release = await lockDevPorts();
    demo = startProgram(process.execPath, [join(REPO_ROOT, 'dist/src/demo/demo.js')]);
    await demo.waitFor(/The network keeps running/, 100_000);
    browser = await launchChromium();
  },
  { timeout: 400_000 },
);

after(async () => {
  await browser?.close();
  const code = await demo?.stop('SIGTERM');
  release?.();
  if (demo !== undefined) assert.equal(code, 0, `the demo did not stop cleanly:\n${demo.output()}`);
});

test('hd-1: the dev directory, hd-2 reached P2P through a public proxy, the tunnel', { skip }, async () => {
  const page = await openStatusPage(browser, PORTS['hd-1'], shot('status-eps-hd-1.png'));
  assert.match((await page.locator('#title').textContent()) ?? '', /eps hd-1/);
  const operators = await page.locator('#section-directory .operator').allTextContents();
  for (const name of OPERATORS) assert.ok(operators.includes(name), `${name} in ${operators.join()}`);
  assert.match(await sectionText(page, 'directory'), /type api/);
  assert.match(await sectionText(page, 'identity'), /pinned/);
  const peers = await sectionText(page, 'peers');
  assert.match(peers, /hd-2/);
  assert.match(peers, THROUGH_A_PROXY);
  assert.match(await sectionText(page, 'tunnels'), /hd-2/);
  assert.ok((await page.locator('#section-calls svg').count()) >= 1, 'a call chart');
  const ping = page.locator('#section-calls .chart', { hasText: 'hd-2._ping' });
  assert.ok((await ping.locator('svg.latency rect.latbar').count()) >= 1, "hd-2._ping's latency chart");
  assert.match((await ping.textContent()) ?? '', /avg [\d.]+ ms/);
  assert.match(await sectionText(page, 'async_store'), /file .*last_answer/);
  await page.close();
});

test('hd-2: the tunnels it accepted, hd-1 as a peer', { skip }, async () => {
  const page = await openStatusPage(browser, PORTS['hd-2'], shot('status-eps-hd-2.png'));
  assert.match(await sectionText(page, 'tunnels'), /public-proxy-[12]\.ga/);
  assert.match(await sectionText(page, 'peers'), /hd-1/);
  await page.close();
});

test('sd-1: the file store read, the records, the chain and the operators', { skip }, async () => {
  const page = await openStatusPage(browser, PORTS['sd-1'], shot('status-sd-1.png'));
  assert.match((await page.locator('#title').textContent()) ?? '', /^sd/);
  const store = await sectionText(page, 'store');
  assert.match(store, /file/);
  assert.match(store, /sd-1\.records/);
  const directory = await sectionText(page, 'directory');
  for (const name of OPERATORS) assert.match(directory, new RegExp(name.replace(/\./g, '\\.')));
  assert.notEqual(await sectionText(page, 'chains'), '');
  assert.match(await sectionText(page, 'submissions'), /hd-1|no entries/);
  await page.close();
});

test(
  "sd-1's /status.json: store healthy, records served on one chain, every dev operator",
  { skip },
  async () => {
    const res = await getPage(PORTS['sd-1'], '/status.json');
    assert.equal(res.status, 200);
    assert.match(res.type, /application\/json/);
    const doc = JSON.parse(res.text) as {
      program: string;
      store: { ok: boolean; mode: string; description: string; age_s: number; error: string | null };
      directory: {
        records: number;
        served_records: number;
        chains: number;
        tip: string;
        operators: { name: string; records: number }[];
      };
      chains: unknown[];
      submissions: unknown[];
    };
    assert.equal(doc.program, 'sd');
    assert.equal(doc.store.ok, true);
    assert.equal(doc.store.mode, 'file');
    assert.equal(doc.store.error, null);
    assert.ok(doc.store.age_s >= 0);
    assert.ok(doc.directory.records > 0);
    assert.ok(doc.directory.served_records > 0 && doc.directory.served_records <= doc.directory.records);
    assert.ok(doc.directory.chains >= 1);
    assert.match(doc.directory.tip, /^[0-9a-f]{64}$/);
    const names = doc.directory.operators.map((o) => o.name);
    for (const name of OPERATORS) assert.ok(names.includes(name), `${name} in ${names.join()}`);
    assert.ok(Array.isArray(doc.chains) && doc.chains.length >= 1);
    assert.ok(Array.isArray(doc.submissions));
    assert.equal((await getPage(PORTS['sd-1'], '/readyz')).status, 200);
  },
);

test('the public proxies: one carries the live tunnel hd-1 -> hd-2', { skip }, async () => {
  let live = 0;
  for (const n of [1, 2] as const) {
    const port = PORTS[`public-proxy-${n}`];
    const page = await openStatusPage(browser, port, n === 2 ? shot('status-proxy.png') : undefined);
    assert.match(
      (await page.locator('#title').textContent()) ?? '',
      new RegExp(`proxy public-proxy-${n}\\.ga`),
    );
    assert.match(await sectionText(page, 'tunnels'), /live/);
    await page.close();
    const doc = JSON.parse((await getPage(port, '/status.json')).text) as { tunnels: { live: number } };
    live += doc.tunnels.live;
  }
  assert.ok(live >= 1, 'a live tunnel on a public proxy');
});
