// The recovery results menu and a protection group's snapshots in headless Chromium,
// over a real report: two test clouds registered as clusters (source and target, with
// their volume files), a real `holdfast-agent` on each cloud's volume pool (RabbitMQ,
// this file's own bus namespace), a group and plan replicated to Normal, then a drill
// run through the API, waited for and rolled back. In the browser: the results list
// (filters, search), the report (summary, instances, volumes, workflow, export
// downloads), "Snapshot now" and a snapshot's delete on the group page, the group's
// history, a Viewer who sees no delete/snapshot buttons and is refused when forcing
// them, Korean at 390 px, and the report deleted after a confirmation.
// No sleeps for synchronisation: every wait is for a selector or a polled condition.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ADMIN_PASSWORD } from '../lib/server.js';
import { BUS_NAMESPACE } from '../lib/agent.js';
import { drillStack, until } from '../lib/drill.js';
import { launch, newPage, shot, loginAs } from '../lib/browser.js';

// This file's own bus namespace (its orchestrator consumes the namespace's orchestrator
// queue) and node ids, so that it never shares queues with another test file's.
const NAMESPACE = `${BUS_NAMESPACE}-reports`;
const SOURCE_NODE = 'reports-e2e-source';

// The source runs "shop": a database server with a data volume and a web server, on a
// network behind a router to the external network; the target has its external network,
// compute nodes and a matching flavor (a small version of tests/demo's fixture).
function sourceFixture() {
  const volumes = [];
  const servers = [];
  for (const [name, data] of [['db', true], ['web', false]]) {
    volumes.push({ name: `${name}-root`, project: 'shop', size_gb: 1, bootable: true, content: `root disk of ${name}` });
    if (data) volumes.push({ name: `${name}-data`, project: 'shop', size_gb: 1, content: `data disk of ${name}` });
    servers.push({
      name, project: 'shop', flavor: 'm1.small', networks: ['back'], boot_volume: `${name}-root`,
      volumes: data ? [`${name}-data`] : [],
    });
  }
  return {
    hypervisors: [{ hostname: 'compute-1', vcpus: 64, memory_mb: 262144, local_gb: 4000 }],
    flavors: [{ id: 'f-small', name: 'm1.small', vcpus: 1, ram: 512, disk: 0 }],
    projects: [{ name: 'shop' }],
    quotas: { shop: { instances: -1, cores: -1, ram: -1, volumes: -1, gigabytes: -1, ports: -1 } },
    networks: [
      { name: 'public', external: true, shared: true, subnets: [{ name: 'public-sub', cidr: '203.0.113.0/24' }] },
      { name: 'back', project: 'shop', subnets: [{ name: 'back-sub', cidr: '10.0.2.0/24' }] },
    ],
    routers: [{ name: 'edge', project: 'shop', external_network: 'public', subnets: ['back-sub'] }],
    volumes,
    servers,
  };
}

const targetFixture = {
  hypervisors: [{ hostname: 'dr-compute-1', vcpus: 64, memory_mb: 262144, local_gb: 4000 }],
  flavors: [{ id: 't-small', name: 'm1.small', vcpus: 1, ram: 512, disk: 0 }],
  networks: [{ name: 'public', external: true, shared: true, subnets: [{ name: 'public-sub', cidr: '198.51.100.0/24' }] }],
};

const drill = drillStack({
  namespace: NAMESPACE, sourceNode: SOURCE_NODE, sourceFixture: sourceFixture(), targetFixture,
  servers: ['db', 'web'],
});
let server;
let browser;
const pages = [];
let viewerPassword;
let groupId;
let reportId;
let jobName;

async function open(opts) {
  const p = await newPage(browser, server.base, opts);
  pages.push(p);
  return p;
}

// A drill from the latest snapshot of the Normal plan, completed and rolled back: the
// report exists.
async function produceReport() {
  const { api } = drill;
  const job = await api('POST', '/api/v1/jobs', {
    plan_id: drill.planId, name: 'shop-drill-1', type: 'drill', run_type: 'now', recovery_point: 'latest-snapshot',
  });
  jobName = job.name;
  const done = await until('the drill completing', async (seen) => {
    const m = await api('GET', `/api/v1/jobs/${job.id}/monitor`);
    seen({ state: m.job.state, instances: m.instances, volumes: m.volumes });
    return ['completed', 'clear-failed', 'finished'].includes(m.job.state) ? m : undefined;
  }, { timeoutMs: 240000 });
  assert.equal(done.job.result, 'success', JSON.stringify(done.instances.concat(done.volumes)));
  await api('POST', `/api/v1/jobs/${job.id}/operations/rollback`, {});
  reportId = await until('the drill rolled back and reported', async (seen) => {
    const r = await api('GET', `/api/v1/reports?group=${groupId}`);
    seen(r);
    const item = r.items.find((i) => i.job_id === job.id);
    return item ? item.id : undefined;
  }, { timeoutMs: 240000 });
}

describe('recovery results and snapshots console', () => {
  before(async () => {
    await drill.start();
    ({ server, groupId } = drill);
    try {
      await produceReport();
    } catch (e) {
      e.message += '\n--- agent logs ---\n' + drill.agentLogs();
      throw e;
    }
    const v = await drill.api('POST', '/api/v1/users', {
      id: 'vera', name: 'Vera', email: 'vera@example.com', role: 'viewer', groups: [drill.teamId],
    });
    viewerPassword = v.password;
    browser = await launch();
  });

  after(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    if (browser) await browser.close();
    await drill.stop();
    for (const p of pages) assert.deepEqual(p.problems, [], 'browser errors');
  });

  let page;

  it('lists the result with search and filters', async () => {
    ({ page } = await open());
    await loginAs(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Recovery results', exact: true }).click();
    await page.waitForURL(/\/console\/reports$/);
    await page.getByRole('heading', { name: 'Recovery results', exact: true }).waitFor();
    const row = page.locator(`#reports-table tr[data-report="${reportId}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), /Drill/);
    assert.match(await row.textContent(), /shop/);
    assert.equal(await row.locator('[data-role=result]').getAttribute('data-value'), 'success');
    await row.getByRole('button', { name: 'Delete result' }).waitFor();
    await shot(page, '40-reports');

    const filters = page.getByRole('search');
    await filters.getByLabel('Result').selectOption({ label: 'Failed' });
    await filters.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(/result=failed/);
    await page.locator('#reports-table .empty-row').waitFor();

    await filters.getByLabel('Result').selectOption({ label: 'Success' });
    await filters.getByLabel('Job type').selectOption({ label: 'Drill' });
    await filters.getByLabel('Protection group').selectOption({ label: 'shop' });
    await filters.getByLabel('Job name contains').fill('DRILL-1');
    const today = new Date().toISOString().slice(0, 10);
    await filters.getByLabel(/^Ended from/).fill(today);
    await filters.getByLabel(/^Ended until/).fill(today);
    await filters.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(/from=/);
    await row.waitFor();
    assert.equal(await page.locator('#reports-table tr[data-report]').count(), 1);

    await filters.getByLabel(/^Ended from/).fill('2000-01-01');
    await filters.getByLabel(/^Ended until/).fill('2000-01-31');
    await filters.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(/to=2000-01-31/);
    await page.locator('#reports-table .empty-row').waitFor();
  });

  it('shows the report: summary, instances, volumes, workflow, and downloads its export', async () => {
    await page.goto('/console/reports');
    await page.locator(`#reports-table tr[data-report="${reportId}"]`).getByRole('link', { name: jobName }).click();
    await page.waitForURL(new RegExp(`/console/reports/${reportId}$`));
    await page.getByRole('heading', { name: jobName, exact: true }).waitFor();
    const summary = page.locator('#report-summary');
    const text = await summary.textContent();
    for (const want of [/Drill/, /rolled back/, /shop-to-busan/, /seoul-prod/, /busan-dr/, /latest-snapshot/, /snapshot:/]) {
      assert.match(text, want);
    }
    assert.equal(await summary.locator('[data-role=result]').getAttribute('data-value'), 'success');
    // Achieved RTO against the group's 30 minutes; RPO against its 5 minutes.
    assert.equal(await summary.locator('[data-role=rto] [data-role=objective]').getAttribute('data-value'), 'met');
    await summary.locator('[data-role=rpo] [data-role=objective]').waitFor();
    const instances = page.locator('#report-instances tr[data-item=instance]');
    assert.equal(await instances.count(), 2);
    assert.match(await page.locator('#report-instances').textContent(), /db[\s\S]*web|web[\s\S]*db/);
    assert.equal(await page.locator('#report-instances [data-role=status][data-value=success]').count(), 2);
    assert.equal(await page.locator('#report-volumes tr[data-item=volume]').count(), 3);
    assert.ok(await page.locator('#report-tasks tr[data-stage=recovery]').count() > 0, 'recovery tasks');
    assert.ok(await page.locator('#report-tasks tr[data-stage=rollback]').count() > 0, 'rollback tasks');
    assert.ok(await page.locator('#report-log li').count() > 0, 'task log');
    assert.match(await page.locator('#export-hint').textContent(), /JSON/);
    await shot(page, '41-report-detail');

    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download JSON' }).click()]);
    assert.equal(json.suggestedFilename(), `holdfast-report-${reportId}.json`);
    const doc = JSON.parse(readFileSync(await json.path(), 'utf8'));
    assert.equal(doc.id, reportId);
    assert.equal(doc.summary.job_name, jobName);
    const [htmlFile] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download HTML' }).click()]);
    assert.equal(htmlFile.suggestedFilename(), `holdfast-report-${reportId}.html`);
    assert.match(readFileSync(await htmlFile.path(), 'utf8'), /Recovery report: /);
  });

  it('takes a snapshot now and deletes one on the group page, which links its history', async () => {
    await page.goto(`/console/protection-groups/${groupId}`);
    const rows = page.locator('#snapshots-table tr[data-snapshot]');
    await rows.first().waitFor();
    const ids = () => rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.snapshot));
    const known = await ids();
    assert.match(await rows.first().locator('[data-role=plan-snapshot]').textContent(), /shop-to-busan/);
    await page.getByRole('button', { name: 'Snapshot now' }).click();
    // The toast says the result (a refusal would say why: shown if it comes instead).
    await page.locator('.toast', { hasText: 'Snapshot taken' }).waitFor({ timeout: 60000 }).catch(async (e) => {
      e.message += `\ntoasts: ${JSON.stringify(await page.locator('.toast').allTextContents())}`;
      throw e;
    });
    // The newest first: the new snapshot heads the list after the reload.
    await until('the new snapshot in the list', async () => {
      const now = await ids();
      return now.length > 0 && !known.includes(now[0]) ? true : undefined;
    }, { timeoutMs: 30000 });
    const history = page.locator('#pgroup-history');
    await history.locator(`tr[data-report="${reportId}"]`).getByRole('link', { name: jobName }).waitFor();
    assert.match(await history.locator('[data-role=all-results]').getAttribute('href'), new RegExp(`/console/reports\\?group=${groupId}`));
    await shot(page, '42-pgroup-snapshots');

    // Delete the oldest: asked first, cancelled, then confirmed.
    const dialog = page.locator('#confirm-dialog');
    const oldest = rows.last();
    const oldestId = await oldest.getAttribute('data-snapshot');
    await oldest.getByRole('button', { name: 'Delete snapshot' }).click();
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), /Delete snapshot .* from the target storage/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.ok((await ids()).includes(oldestId), 'nothing deleted after cancel');
    await oldest.getByRole('button', { name: 'Delete snapshot' }).click();
    await dialog.getByRole('button', { name: 'Yes, do it' }).click();
    await page.locator('.toast', { hasText: 'Snapshot deleted' }).waitFor();
    await page.locator(`#snapshots-table tr[data-snapshot="${oldestId}"]`).waitFor({ state: 'detached' });
  });

  it('shows a Viewer no delete or snapshot buttons; the server refuses them', async () => {
    const { page: vp } = await open();
    await loginAs(vp, 'vera', viewerPassword);
    await vp.goto('/console/reports');
    await vp.locator(`#reports-table tr[data-report="${reportId}"]`).waitFor();
    assert.equal(await vp.getByRole('button', { name: 'Delete result' }).count(), 0);
    await vp.goto(`/console/reports/${reportId}`);
    await vp.locator('#report-summary').waitFor();
    assert.equal(await vp.getByRole('button', { name: 'Delete result' }).count(), 0);
    await vp.getByRole('link', { name: 'Download JSON' }).waitFor();
    await vp.goto(`/console/protection-groups/${groupId}`);
    await vp.locator('#snapshots-table tr[data-snapshot]').first().waitFor();
    assert.equal(await vp.getByRole('button', { name: 'Snapshot now' }).count(), 0);
    assert.equal(await vp.getByRole('button', { name: 'Delete snapshot' }).count(), 0);
    await shot(vp, '43-pgroup-viewer');
    const snapshot = await vp.locator('#snapshots-table tr[data-snapshot]').first().getAttribute('data-snapshot');
    const statuses = await vp.evaluate(async ([report, group, snap]) => {
      const csrf = document.querySelector('meta[name="csrf-token"]').content;
      const headers = { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' };
      const del = await fetch(`/api/v1/reports/${report}`, { method: 'DELETE', headers });
      const take = await fetch(`/api/v1/protection-groups/${group}/snapshots`, { method: 'POST', headers, body: '{}' });
      const drop = await fetch(`/api/v1/protection-groups/${group}/snapshots/${snap}`, { method: 'DELETE', headers });
      return [del.status, take.status, drop.status];
    }, [reportId, groupId, snapshot]);
    assert.deepEqual(statuses, [403, 403, 403]);
  });

  it('reads in Korean at 390 px, then deletes the report after a confirmation', async () => {
    await page.goto('/console/lang/ko?next=/console/reports');
    await page.getByRole('heading', { name: '복구결과', exact: true }).waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`/console/reports/${reportId}`);
    await page.locator('#report-summary').waitFor();
    assert.match(await page.locator('#report-summary').textContent(), /모의훈련/);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling at 390 px');
    await shot(page, '44-report-narrow-ko');
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto('/console/lang/en?next=/console/reports');

    const dialog = page.locator('#confirm-dialog');
    const row = page.locator(`#reports-table tr[data-report="${reportId}"]`);
    await row.getByRole('button', { name: 'Delete result' }).click();
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), new RegExp(`Delete the result of drill ${jobName}`));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await row.getByRole('button', { name: 'Delete result' }).click();
    await dialog.getByRole('button', { name: 'Yes, do it' }).click();
    await page.locator('.toast', { hasText: 'Recovery result deleted' }).waitFor();
    await page.locator('#reports-table .empty-row').waitFor();
    // (The browser's login ended the set-up's API session: ask as the browser.)
    assert.equal(await page.evaluate(async (id) => (await fetch(`/api/v1/reports/${id}`)).status, reportId), 404);
    // The browser reports that (expected) 404 as a console error.
    const { problems } = pages.find((p) => p.page === page);
    problems.splice(0, problems.length, ...problems.filter((x) => !/status of 404/.test(x)));
  });
});
