// Debian's Chromium, headless, driven by playwright-core (no browser download).
// `chromium.launch` starts the browser with a fresh temporary --user-data-dir; each
// `newContext` is a separate cookie jar (one per user in a test).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './server.js';

export const screenshotDir = process.env.HOLDFAST_SCREENSHOT_DIR || join(repoRoot, 'target', 'console-screenshots');

export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  mkdirSync(screenshotDir, { recursive: true });
  return browser;
}

// A new cookie jar with a 1280-wide window (or the given size) and a language.
export async function newPage(browser, base, { width = 1280, height = 860, locale = 'en-GB' } = {}) {
  const context = await browser.newContext({
    baseURL: base, viewport: { width, height }, locale, timezoneId: 'Asia/Seoul',
  });
  context.setDefaultTimeout(30000);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of (401|403|409|422|423)/.test(m.text())) problems.push(`console: ${m.text()}`); });
  return { context, page, problems };
}

export async function shot(page, name) {
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
}

// Logs in through the login form and waits for the console.
export async function loginAs(page, id, password) {
  await page.goto('/console/login');
  await page.getByLabel(/User ID|사용자 ID/).fill(id);
  await page.getByLabel(/^(Password|비밀번호)$/).fill(password);
  await page.getByRole('button', { name: /^(Log in|로그인)$/ }).click();
  await page.waitForURL(/\/console\/(?!login)/);
}
