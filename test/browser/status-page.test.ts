/**
 * Issue 13, the status page in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no browser download) opens the pages of hd-1, hd-2 and the public proxy of a real
 * network after a P2P ping, checks the operators, peers and tunnels they show, that a hostile operator
 * name renders as text and runs nothing, and saves screenshots in docs/images/. Without
 * /usr/bin/chromium (or playwright-core) it reports itself skipped with the reason.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PROXY_OPERATOR as P } from '../helpers/p2p-network.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { HOSTILE_NAME, statusNetwork, type StatusNetwork } from '../helpers/status-network.js';

const CHROMIUM = '/usr/bin/chromium';
const playwright = await import('playwright-core').catch(() => undefined);
const skip = !existsSync(CHROMIUM)
  ? `*** SKIPPED: status page browser test: ${CHROMIUM} not found (apt-get install chromium) ***`
  : playwright === undefined
    ? '*** SKIPPED: status page browser test: playwright-core not installed (npm ci) ***'
    : false;
if (skip) console.error(skip);

let network: StatusNetwork;
let browser: Browser;

before(async () => {
  if (skip) return;
  network = await statusNetwork();
  browser = await playwright!.chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox'],
    timeout: 30_000,
  });
});

after(async () => {
  await browser?.close();
  await network?.net.stop();
});

async function open(port: number, shot: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(15_000);
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForSelector('body[data-loaded]');
  await page.screenshot({ path: join(REPO_ROOT, 'docs/images', shot), fullPage: true });
  return page;
}

test(
  'hd-1: operators, the hostile name as text, hd-2 reached by P2P through the proxy, the tunnel',
  { skip },
  async () => {
    const page = await open(network.metrics['hd-1'], 'status-eps-hd-1.png');
    const operators = await page.locator('#section-directory .operator').allTextContents();
    for (const n of ['hd-1', 'hd-2', P, HOSTILE_NAME])
      assert.ok(operators.includes(n), `${n} in ${operators.join()}`);
    assert.equal(await page.locator('#section-directory img').count(), 0, 'the hostile name made no element');
    assert.equal(await page.evaluate(() => document.body.dataset.xss), undefined, 'no script ran');
    const peers = await page.locator('#section-peers').textContent();
    assert.match(peers ?? '', /hd-2/);
    assert.match(peers ?? '', new RegExp(`p2p\\s*through ${P.replace(/\./g, '\\.')}`));
    const tunnels = await page.locator('#section-tunnels').textContent();
    assert.match(tunnels ?? '', /hd-2/);
    assert.ok((await page.locator('#section-calls svg').count()) >= 1, 'a call chart');
    await page.close();
  },
);

test('hd-2 shows the tunnel it accepted; the proxy its live tunnel', { skip }, async () => {
  const hd2 = await open(network.metrics['hd-2'], 'status-eps-hd-2.png');
  assert.match(
    (await hd2.locator('#section-tunnels').textContent()) ?? '',
    new RegExp(P.replace(/\./g, '\\.')),
  );
  assert.match((await hd2.locator('#section-peers').textContent()) ?? '', /hd-1/);
  await hd2.close();
  const proxy = await open(network.metrics.proxy, 'status-proxy.png');
  assert.match((await proxy.locator('#title').textContent()) ?? '', /proxy/);
  assert.match((await proxy.locator('#section-tunnels').textContent()) ?? '', /live/);
  await proxy.close();
});
