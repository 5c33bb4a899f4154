// The agents page in headless Chromium: the empty state of an orchestrator without a
// bus, then a real `holdfast-agent` on RabbitMQ (127.0.0.1:5672) reporting to a second
// orchestrator: the list (reachable, last heartbeat) and the detail (health: load,
// memory, disk per storage path, workers, tracker; replication per volume).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ADMIN_PASSWORD } from '../lib/server.js';
import { startAgent, AMQP_URL, BUS_NAMESPACE } from '../lib/agent.js';
import { launch, newPage, shot, loginAs } from '../lib/browser.js';

let browser;
const servers = [];
const agents = [];
const pages = [];

async function open(base) {
  const p = await newPage(browser, base);
  pages.push(p);
  return p;
}

// Retries `check` (which throws until its condition holds) until the deadline.
async function eventually(check, { timeoutMs = 60000, everyMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { return await check(); } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

describe('agents console', () => {
  before(async () => {
    browser = await launch();
  });

  after(async () => {
    for (const a of agents) await a.stop();
    for (const p of pages) await p.context.close().catch(() => {});
    if (browser) await browser.close();
    for (const s of servers) await s.stop();
    for (const p of pages) assert.deepEqual(p.problems, [], 'browser errors');
  });

  it('shows the empty state without agents, and refuses an unknown one', async () => {
    const server = await startServer();
    servers.push(server);
    const p = await open(server.base);
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

  it('shows a real agent: reachable, its heartbeat and its health', async () => {
    const server = await startServer({
      extraConfig: [`bus_url = ${JSON.stringify(AMQP_URL)}`, `bus_namespace = ${JSON.stringify(BUS_NAMESPACE)}`],
    });
    servers.push(server);
    const agent = startAgent({ namespace: BUS_NAMESPACE, node: 'e2e-node-1' });
    agents.push(agent);
    const admin = await server.login('admin', ADMIN_PASSWORD);
    await eventually(async () => {
      const r = await server.call('GET', '/api/v1/agents/e2e-node-1', admin);
      assert.equal(r.status, 200, JSON.stringify(r.body) + '\n' + agent.log());
      assert.equal(r.body.state, 'online');
      assert.ok(r.body.health, 'no health yet');
    });
    await server.call('DELETE', '/api/v1/sessions/current', admin);

    const { page } = await open(server.base);
    await loginAs(page, 'admin', ADMIN_PASSWORD);
    await page.goto('/console/agents');
    const row = page.locator('#agents-table tr[data-agent="e2e-node-1"]');
    await row.locator('[data-role=agent-state]', { hasText: 'Reachable' }).waitFor();
    assert.equal(await row.locator('time').count(), 1, 'the last heartbeat is shown');
    await shot(page, '31-agents');
    await row.getByRole('link', { name: 'e2e-node-1' }).click();
    await page.waitForURL(/\/console\/agents\/e2e-node-1$/);
    await page.getByRole('heading', { name: /e2e-node-1/ }).waitFor();
    await page.locator('#health-title').waitFor();
    const facts = await page.locator('#agent-facts').textContent();
    assert.match(facts, /Reachable/);
    assert.match(facts, /files \(file\)/);
    assert.match(await page.locator('#health-title + dl').textContent(), /pid \d+, \d+ threads/);
    await page.locator('#disks-table tbody tr:not(.empty-row)').first().waitFor();
    assert.match(await page.locator('#disks-table').textContent(), /GiB|MiB|TiB/);
    await page.locator('#replication-table .empty-row').waitFor();
    await shot(page, '32-agent-detail');
  });
});
