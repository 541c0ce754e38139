/**
 * Headless Chromium for the status page tests: Debian's `/usr/bin/chromium` driven by playwright-core (no
 * browser download). `browserSkip` is the reason to skip (printed once) when either is missing.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const playwright = await import('playwright-core').catch(() => undefined);

export function browserSkip(what: string): string | false {
  const skip = !existsSync(CHROMIUM)
    ? `*** SKIPPED: ${what}: ${CHROMIUM} not found (apt-get install chromium) ***`
    : playwright === undefined
      ? `*** SKIPPED: ${what}: playwright-core not installed (npm ci) ***`
      : false;
  if (skip) console.error(skip);
  return skip;
}

export async function launchChromium(): Promise<Browser> {
  if (playwright === undefined) throw new Error('playwright-core is not installed');
  return playwright.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
}

/** Opens a status page and waits until its script rendered /status.json; optionally saves a screenshot. */
export async function openStatusPage(browser: Browser, port: number, screenshot?: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(15_000);
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForSelector('body[data-loaded]');
  if (screenshot !== undefined) {
    await page.screenshot({ path: screenshot, fullPage: true });
    assert.ok(statSync(screenshot).size > 10_000, `screenshot ${screenshot} is (nearly) empty`);
  }
  return page;
}

/** The text of one section of a rendered page ('' when absent). */
export async function sectionText(page: Page, id: string): Promise<string> {
  return (await page.locator(`#section-${id}`).textContent()) ?? '';
}
