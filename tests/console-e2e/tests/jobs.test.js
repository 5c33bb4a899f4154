// The recovery jobs menu in headless Chromium, on a drill that really runs: two test
// clouds (a small "shop" on the source, an empty target) registered as clusters, real
// agents on RabbitMQ serving each cloud's Cinder pool (the target agent's node id is
// the target's Cinder host `testcloud`, so its exports are adopted), a protection
// group and plan set up through the API until the plan is Normal. Then in the browser:
// the list, the form (only the spec's combinations; the API's refusal in words), a
// drill followed live on the monitor (server push, no reload) to completion, extend,
// clean up now (rollback) behind a confirmation, the link to the report; a waiting job
// edited and deleted after confirmation; a Viewer who sees no mutation controls and is
// refused when forcing an operation; a completed DR job whose retry offers the group's
// snapshots in a list (the server refuses one deleted meanwhile). No sleeps for
// synchronisation: every wait is for a selector or a condition.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD } from '../lib/server.js';
import { BUS_NAMESPACE } from '../lib/agent.js';
import { drillStack } from '../lib/drill.js';
import { launch, newPage, shot, loginAs } from '../lib/browser.js';

// This file's own bus namespace and node ids: other files (run concurrently) start
// agents too, and an agent's queue is named by namespace and node id.
const NAMESPACE = `${BUS_NAMESPACE}-jobs`;
const SOURCE_NODE = 'e2e-jobs-source';

function sourceFixture() {
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
    security_groups: [{ name: 'db', project: 'shop', rules: [{ protocol: 'tcp', port_min: 5432, port_max: 5432, remote_ip_prefix: '10.0.2.0/24' }] }],
    volumes: [
      { name: 'db-root', project: 'shop', size_gb: 1, bootable: true, content: 'root disk of db' },
      { name: 'db-data', project: 'shop', size_gb: 1, content: 'data disk of db' },
      { name: 'app1-root', project: 'shop', size_gb: 1, bootable: true, content: 'root disk of app1' },
    ],
    servers: [
      { name: 'db', project: 'shop', flavor: 'm1.small', networks: ['back'], boot_volume: 'db-root', volumes: ['db-data'] },
      { name: 'app1', project: 'shop', flavor: 'm1.small', networks: ['back'], boot_volume: 'app1-root', volumes: [] },
    ],
  };
}

function targetFixture() {
  return {
    hypervisors: [{ hostname: 'dr-compute-1', vcpus: 64, memory_mb: 262144, local_gb: 4000 }],
    flavors: [{ id: 't-small', name: 'm1.small', vcpus: 1, ram: 512, disk: 0 }],
    networks: [{ name: 'public', external: true, shared: true, subnets: [{ name: 'public-sub', cidr: '198.51.100.0/24' }] }],
  };
}

const drill = drillStack({
  namespace: NAMESPACE, sourceNode: SOURCE_NODE, sourceFixture: sourceFixture(), targetFixture: targetFixture(),
  servers: ['db', 'app1'], serverConfig: ['agent_heartbeat_interval_ms = 1000', 'lease_ttl_ms = 3000'],
});
let server;
let browser;
const pages = [];
let viewerPassword;
let planId;

async function open(opts) {
  const p = await newPage(browser, server.base, opts);
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

describe('recovery jobs console', () => {
  before(async () => {
    await drill.start();
    ({ server, planId } = drill);
    const v = await drill.api('POST', '/api/v1/users', {
      id: 'vic', name: 'Vic', email: 'vic@example.com', role: 'viewer', groups: [drill.teamId],
    });
    viewerPassword = v.password;
    await drill.api('DELETE', '/api/v1/sessions/current');
    browser = await launch();
  });

  after(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    if (browser) await browser.close();
    await drill.stop();
    for (const p of pages) assert.deepEqual(p.problems, [], 'browser errors');
  });

  let page;
  let jobUrl;

  it('creates a drill in the form, offering only the allowed combinations', async () => {
    ({ page } = await open());
    await loginAs(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Recovery jobs', exact: true }).click();
    await page.waitForURL(/\/console\/jobs$/);
    await page.locator('#jobs-table .empty-row').waitFor();
    await page.getByRole('link', { name: 'Add recovery job' }).click();
    await page.getByLabel('Recovery plan').selectOption({ label: 'shop-to-busan — shop' });
    await page.getByRole('button', { name: 'Use this plan' }).click();
    const form = page.locator('#job-form');
    await form.waitFor();
    assert.match(await page.locator('#job-plan-facts').textContent(), /seoul-prod[\s\S]*busan-dr/);

    // A DR cannot run on a schedule; a drill cannot use the latest data.
    await form.getByLabel('Disaster recovery').check();
    assert.ok(await form.getByLabel('On a schedule').isDisabled());
    assert.ok(await form.getByLabel('Latest data').isEnabled());
    await form.getByLabel('Drill', { exact: true }).check();
    assert.ok(await form.getByLabel('On a schedule').isEnabled());
    assert.ok(await form.getByLabel('Latest data').isDisabled());
    await form.getByLabel('On a schedule').check();
    await form.locator('#job-schedule').waitFor();
    assert.ok(await form.getByLabel('A chosen snapshot').isDisabled(), 'a scheduled drill uses the latest snapshot');
    await form.getByLabel('Repeats').selectOption('weekly');
    await form.getByLabel('Weekday', { exact: true }).waitFor();
    assert.ok(await form.getByLabel('Day of the month').isHidden());
    await shot(page, '40-job-new-schedule');

    // At a time, but no time given: the API's refusal, in words, in the form.
    await form.getByLabel('At a date and time').check();
    assert.ok(await form.locator('#job-schedule').isHidden());
    await form.getByRole('button', { name: 'Add job' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Yes, do it' }).click();
    const error = form.locator('[data-role=form-error]');
    await error.waitFor();
    assert.match(await error.textContent(), /A value is not valid\. — an 'at' job needs 'at'/);

    await form.getByLabel('Name', { exact: true }).fill('e2e-drill');
    await form.getByLabel('Now', { exact: true }).check();
    await form.getByLabel('Latest snapshot').check();
    await form.getByRole('button', { name: 'Add job' }).click();
    const dialog = page.locator('#confirm-dialog');
    assert.match(await dialog.textContent(), /Add this recovery job/);
    await dialog.getByRole('button', { name: 'Yes, do it' }).click();
    await page.waitForURL(/\/console\/jobs\/[0-9a-f-]{36}$/);
    jobUrl = new URL(page.url()).pathname;
    await page.locator('.toast', { hasText: 'Recovery job added' }).waitFor();
  });

  it('follows the drill live to completion: boot order, volumes, workflow, log', async () => {
    // Marks this document: a reload would lose it.
    await page.evaluate(() => { window.holdfastNoReload = true; });
    const monitor = page.locator('#job-monitor');
    await page.locator('#job-monitor[data-live=open]').waitFor();
    const state = page.locator('#job-summary [data-role=job-state]');
    await page.locator('#job-summary [data-role=job-state][data-value=completed]').waitFor({ timeout: 240000 });
    assert.equal(await page.locator('#job-summary [data-role=job-result]').getAttribute('data-value'), 'success',
      await page.locator('#job-log').textContent());
    assert.equal(await state.textContent(), 'Completed');
    assert.ok(await page.evaluate(() => window.holdfastNoReload === true), 'the page was not reloaded');
    assert.ok(Number(await monitor.getAttribute('data-updates')) > 1, 'live changes were applied');

    // The boot order: db in boot group 1, app1 in group 2, both recovered and started.
    const groups = page.locator('#job-boot .boot-group');
    assert.equal(await groups.count(), 2);
    assert.match(await groups.nth(0).textContent(), /Boot group 1[\s\S]*db/);
    assert.match(await groups.nth(1).textContent(), /Boot group 2[\s\S]*app1/);
    assert.equal(await page.locator('#job-boot [data-instance][data-status=success]').count(), 2);
    assert.equal(await page.locator('#job-volumes tr[data-volume]').count(), 3);
    assert.equal(await page.locator('#job-volumes [data-role=status][data-value=recovered]').count(), 3);
    const tasks = page.locator('#job-tasks tr[data-task]');
    assert.ok(await tasks.count() > 5, 'the workflow lists the recovery tasks');
    assert.equal(await page.locator('#job-tasks tr[data-task] .status[data-value=succeeded]').count(), await tasks.count());
    assert.ok(await page.locator('#job-log li').count() > 0);
    assert.equal(await page.locator('#job-progress').getAttribute('value'), '100');

    // Exactly the operations of a completed drill: clean up now and extend.
    const visible = await page.locator('[data-op]:not([hidden])').evaluateAll((els) => els.map((e) => e.dataset.op).sort());
    assert.deepEqual(visible, ['extend-rollback-wait', 'rollback']);
    await page.locator('#job-cleanup').waitFor();
    await shot(page, '41-job-monitor-completed');

    // Extend the rollback wait: the cleanup time moves, live.
    const before = await page.locator('#job-cleanup [data-field=cleanup_at] time').getAttribute('datetime');
    await page.getByLabel('Extend by (minutes)').fill('30');
    await page.locator('#job-extend').getByRole('button', { name: 'Extend' }).click();
    await page.locator('.toast', { hasText: 'Done' }).waitFor();
    await eventually(async () => {
      const after = await page.locator('#job-cleanup [data-field=cleanup_at] time').getAttribute('datetime');
      assert.ok(Date.parse(after) >= Date.parse(before) + 29 * 60000, `${before} → ${after}`);
    });
  });

  it('lists the job with filters', async () => {
    // The same browser session: a new login of the same user would end this one.
    const p = page;
    await p.goto('/console/jobs?type=drill&state=completed&q=e2e');
    const row = p.locator('#jobs-table tr[data-job="e2e-drill"]');
    await row.waitFor();
    assert.match(await row.textContent(), /shop-to-busan[\s\S]*shop[\s\S]*Drill[\s\S]*Now[\s\S]*Latest snapshot[\s\S]*Completed[\s\S]*Success/);
    await shot(p, '42-jobs');
    await p.goto('/console/jobs?type=dr');
    await p.locator('#jobs-table .empty-row').waitFor();
    await p.goto('/console/jobs?q=no-such-job');
    await p.locator('#jobs-table .empty-row').waitFor();
    await p.goto(jobUrl);
    await p.locator('#job-summary [data-role=job-state][data-value=completed]').waitFor();
  });

  it('shows a Viewer no mutation controls; the server refuses a forced operation', async () => {
    const { page: vp } = await open();
    await loginAs(vp, 'vic', viewerPassword);
    await vp.goto('/console/jobs');
    await vp.locator('#jobs-table tr[data-job="e2e-drill"]').waitFor();
    assert.equal(await vp.getByRole('link', { name: 'Add recovery job' }).count(), 0);
    await vp.goto(jobUrl);
    await vp.locator('#job-summary [data-role=job-state][data-value=completed]').waitFor();
    assert.equal(await vp.locator('[data-op]').count(), 0);
    assert.equal(await vp.locator('[data-role=job-delete]').count(), 0);
    assert.equal(await vp.locator('#job-boot [data-instance]').count(), 2, 'a Viewer still sees the monitor');
    assert.equal((await vp.goto('/console/jobs/new')).status(), 403);
    await vp.goto(jobUrl);
    const statuses = await vp.evaluate(async (url) => {
      const csrf = document.querySelector('meta[name="csrf-token"]').content;
      const headers = { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' };
      const rollback = await fetch(url + '/operations/rollback', { method: 'POST', headers, body: '{}' });
      const del = await fetch(url, { method: 'DELETE', headers });
      return [rollback.status, del.status];
    }, jobUrl.replace('/console/', '/api/v1/'));
    assert.deepEqual(statuses, [403, 403]);
    await vp.locator('#job-summary [data-role=job-state][data-value=completed]').waitFor();
  });

  it('cleans up now after confirmation, follows the rollback and links the report', async () => {
    await page.locator('#job-monitor[data-live=open]').waitFor();
    await page.evaluate(() => { window.holdfastNoReload = true; });
    const dialog = page.locator('#confirm-dialog');
    await page.getByRole('button', { name: 'Clean up now (roll back)' }).click();
    await dialog.waitFor({ state: 'visible' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#job-summary [data-role=job-state]').getAttribute('data-value'), 'completed');
    await page.getByRole('button', { name: 'Clean up now (roll back)' }).click();
    assert.match(await dialog.textContent(), /e2e-drill/);
    await dialog.getByRole('button', { name: 'Yes, do it' }).click();
    const finished = page.locator('#job-finished');
    await finished.waitFor({ state: 'visible', timeout: 240000 });
    assert.ok(await page.evaluate(() => window.holdfastNoReload === true), 'the page was not reloaded');
    assert.ok(await page.locator('#job-tasks tr[data-task^="rollback:"]').count() > 0, 'the rollback tasks were shown live');
    assert.equal(await page.locator('[data-op]:not([hidden])').count(), 0);
    const link = finished.getByRole('link', { name: 'Open its report' });
    const href = await link.getAttribute('href');
    assert.match(href, /^\/console\/reports\/[0-9a-f-]{36}$/);
    await shot(page, '43-job-monitor-finished');
    // The report exists (read with this session: a new login would end it).
    await eventually(async () => {
      const r = await page.evaluate(async (url) => {
        const resp = await fetch(url);
        return { status: resp.status, body: await resp.json() };
      }, href.replace('/console/', '/api/v1/'));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.summary.job_name, 'e2e-drill');
    });
  });

  it('edits a waiting job and deletes it after confirmation', async () => {
    await page.goto('/console/jobs/new?plan=' + planId);
    const form = page.locator('#job-form');
    await form.getByLabel('Name', { exact: true }).fill('e2e-later');
    await form.getByLabel('At a date and time').check();
    await form.getByLabel('Date and time', { exact: true }).fill('2099-01-02T03:04');
    await form.getByRole('button', { name: 'Add job' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Yes, do it' }).click();
    const refused = form.locator('[data-role=form-error]:not(:empty)');
    await Promise.race([page.waitForURL(/\/console\/jobs\/[0-9a-f-]{36}$/), refused.waitFor()]);
    if (await refused.isVisible()) {
      const state = await page.evaluate((id) => fetch(`/api/v1/plans/${id}/state`).then((r) => r.text()), planId);
      assert.fail(`the job was refused: ${await refused.textContent()}; plan state: ${state}`);
    }
    await page.locator('#job-summary [data-role=job-state][data-value=waiting]').waitFor();
    assert.equal(await page.locator('[data-op]:not([hidden])').count(), 0, 'a waiting job has no operation');
    await page.locator('#job-boot [data-role=boot-empty]').waitFor();

    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.waitForURL(/\/edit$/);
    assert.equal(await page.getByLabel('Date and time', { exact: true }).inputValue(), '2099-01-02T03:04');
    await page.getByLabel('Date and time', { exact: true }).fill('2099-02-03T04:05');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Yes, do it' }).click();
    await page.waitForURL(/\/console\/jobs\/[0-9a-f-]{36}$/);
    await page.locator('.toast', { hasText: 'Recovery job changed' }).waitFor();
    const next = await page.locator('[data-field=next_run_at] time').getAttribute('datetime');
    // The browser runs in Asia/Seoul (UTC+9).
    assert.equal(Date.parse(next), Date.parse('2099-02-02T19:05:00Z'));

    await page.goto('/console/lang/ko?next=/console/jobs');
    await page.getByRole('heading', { name: '복구작업', exact: true }).waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('#jobs-table tr[data-job="e2e-later"]').waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
    await shot(page, '44-jobs-narrow-ko');
    await page.locator('#jobs-table tr[data-job="e2e-later"]').getByRole('link', { name: 'e2e-later' }).click();
    await page.locator('#job-monitor').waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto('/console/lang/en?next=' + encodeURIComponent(new URL(page.url()).pathname));

    const dialog = page.locator('#confirm-dialog');
    await page.getByRole('button', { name: 'Delete job' }).click();
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), /Delete recovery job e2e-later/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Delete job' }).click();
    await dialog.getByRole('button', { name: 'Yes, do it' }).click();
    await page.waitForURL(/\/console\/jobs$/);
    await page.locator('.toast', { hasText: 'Recovery job deleted' }).waitFor();
    await page.locator('#jobs-table .empty-row').waitFor();
  });
  it('offers a DR job\'s retry point as a list of the group\'s snapshots; the server still checks the choice', async () => {
    // Calls the API with the browser's session (a new API login would end it).
    const call = (method, path, body) => page.evaluate(async ([m, url, b]) => {
      const csrf = document.querySelector('meta[name="csrf-token"]').content;
      const r = await fetch(url, {
        method: m, headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
        body: b === undefined ? undefined : JSON.stringify(b),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    }, [method, path, body]);
    const snapshotsUrl = `/api/v1/protection-groups/${drill.groupId}/snapshots`;
    // Two more snapshots: the DR recovers from the latest, the retry from an older one.
    for (let i = 0; i < 2; i++) {
      const taken = await call('POST', snapshotsUrl, {});
      assert.equal(taken.status, 201, JSON.stringify(taken.body));
    }
    const snaps = (await call('GET', snapshotsUrl)).body.items;
    assert.ok(snaps.length >= 3, JSON.stringify(snaps));
    // After the drill's rollback the plan may be repairing its mirroring (Prepare).
    await eventually(async () => {
      const st = await call('GET', `/api/v1/plans/${planId}/state`);
      assert.equal(st.body.state, 'Normal', JSON.stringify(st.body));
    }, { timeoutMs: 180000, everyMs: 500 });
    const dr = await call('POST', '/api/v1/jobs', {
      plan_id: planId, name: 'e2e-dr', type: 'dr', run_type: 'now', recovery_point: 'latest-snapshot',
    });
    assert.equal(dr.status, 201, JSON.stringify(dr.body));
    await page.goto(`/console/jobs/${dr.body.id}`);
    await page.locator('#job-summary [data-role=job-state][data-value=completed]').waitFor({ timeout: 240000 });
    const form = page.locator('#job-retry');
    await form.waitFor({ state: 'visible' });

    // The point is chosen in a list: the job's own first, then the group's snapshots,
    // newest first, by time and id.
    const select = form.getByLabel('From snapshot (optional)');
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent })));
    assert.deepEqual(options[0], { value: '', text: "The job's own recovery point (Latest snapshot)" });
    assert.deepEqual(options.slice(1).map((o) => o.value), snaps.map((sn) => sn.id));
    for (const [i, o] of options.slice(1).entries()) assert.equal(o.text, `${snaps[i].taken_at} · ${snaps[i].id}`);
    await form.getByLabel('app1').check();
    await shot(page, '45-job-retry-snapshots');

    // A snapshot the retention (here: a delete) removed after the page was shown: the
    // server refuses it, in words, in the form.
    const oldest = snaps[snaps.length - 1].id;
    await select.selectOption(oldest);
    const gone = await call('DELETE', `${snapshotsUrl}/${oldest}`);
    assert.equal(gone.status, 204, JSON.stringify(gone.body));
    await form.getByRole('button', { name: 'Recover again' }).click();
    const error = form.locator('[data-role=form-error]');
    await error.filter({ hasText: `snapshot ${oldest} is not a snapshot of protection group` }).waitFor();
  });
});
