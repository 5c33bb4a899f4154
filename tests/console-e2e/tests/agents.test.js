// The agents page in headless Chromium. No agent runs in this harness, so the page
// shows its empty state; an unknown node's detail is the API's 404 inside the layout.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ADMIN_PASSWORD } from '../lib/server.js';
import { launch, newPage, shot, loginAs } from '../lib/browser.js';

let server;
let browser;
const pages = [];

describe('agents console', () => {
  before(async () => {
    server = await startServer();
    browser = await launch();
  });

  after(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    if (browser) await browser.close();
    if (server) await server.stop();
    for (const p of pages) assert.deepEqual(p.problems, [], 'browser errors');
  });

  it('lists agents (none here: the empty state) and refuses an unknown one', async () => {
    const p = await newPage(browser, server.base);
    pages.push(p);
    const { page } = p;
    await loginAs(page, 'admin', ADMIN_PASSWORD);
    const nav = page.getByRole('navigation', { name: 'Main menu' });
    await nav.getByRole('link', { name: 'Agents', exact: true }).click();
    await page.waitForURL(/\/console\/agents$/);
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await page.locator('#agents-empty', { hasText: 'No agent has announced itself yet' }).waitFor();
    await page.locator('#agents-table .empty-row').waitFor();
    for (const col of ['Node', 'Host', 'Version', 'State', 'Last heartbeat', 'Problems']) {
      await page.locator('#agents-table th', { hasText: col }).first().waitFor();
    }
    await shot(page, '30-agents-empty');
    const resp = await page.goto('/console/agents/no-such-node');
    assert.equal(resp.status(), 404);
    await page.locator('.alert.error', { hasText: 'no-such-node' }).waitFor();
    // The browser reports the (expected) 404 of that page as a console error.
    p.problems.splice(0, p.problems.length, ...p.problems.filter((x) => !/status of 404/.test(x)));
  });
});
