/**
 * Issue 13, the status page in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no browser download) opens the pages of hd-1, hd-2 and the public proxy of a real
 * network after a P2P ping, checks the operators, peers and tunnels they show, that a hostile operator
 * name renders as text and runs nothing (the dev network's pages and the screenshots in docs/images/:
 * dev-network.test.ts). Without /usr/bin/chromium (or playwright-core) it reports itself skipped with the
 * reason.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { browserSkip, launchChromium, openStatusPage } from '../helpers/browser.js';
import { PROXY_OPERATOR as P } from '../helpers/p2p-network.js';
import { HOSTILE_NAME, statusNetwork, type StatusNetwork } from '../helpers/status-network.js';

const skip = browserSkip('status page browser test');

let network: StatusNetwork;
let browser: Browser;

before(async () => {
  if (skip) return;
  network = await statusNetwork();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await network?.net.stop();
});

const open = (port: number): Promise<Page> => openStatusPage(browser, port);

test(
  'hd-1: operators, the hostile name as text, hd-2 reached by P2P through the proxy, the tunnel',
  { skip },
  async () => {
    const page = await open(network.metrics['hd-1']);
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
  const hd2 = await open(network.metrics['hd-2']);
  assert.match(
    (await hd2.locator('#section-tunnels').textContent()) ?? '',
    new RegExp(P.replace(/\./g, '\\.')),
  );
  assert.match((await hd2.locator('#section-peers').textContent()) ?? '', /hd-1/);
  await hd2.close();
  const proxy = await open(network.metrics.proxy);
  assert.match((await proxy.locator('#title').textContent()) ?? '', /proxy/);
  assert.match((await proxy.locator('#section-tunnels').textContent()) ?? '', /live/);
  await proxy.close();
});
