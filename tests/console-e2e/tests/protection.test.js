// The protection groups and recovery plans menus in headless Chromium, against two test
// clouds registered as clusters (source and target): a group created through the form
// (source cluster → project → unprotected instances, after a refusal the API explains),
// a plan created through the form (info, boot plan, resource and node mapping chosen
// from the synced target), its state with every reason, edit, refused and confirmed
// deletes, and a Viewer who sees no create/edit/delete and is refused when forcing them.
// No sleeps for synchronisation: every wait is for a selector or a condition.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ADMIN_PASSWORD } from '../lib/server.js';
import { startTestCloud, CLOUD_USER, CLOUD_PASSWORD, CLOUD_PROJECT } from '../lib/testcloud.js';
import { launch, newPage, shot, loginAs } from '../lib/browser.js';

let server;
let source;
let target;
let browser;
const pages = [];
let viewerPassword;

async function open(opts) {
  const p = await newPage(browser, server.base, opts);
  pages.push(p);
  return p;
}

// Registers a test cloud as a cluster (set-up, not under test) and waits for its sync.
async function register(token, name, group, cloud) {
  const r = await server.call('POST', '/api/v1/clusters', token, {
    name, owner_group_id: group, platform: 'openstack', auth_url: cloud.authUrl,
    credential: { username: CLOUD_USER, password: CLOUD_PASSWORD, project: CLOUD_PROJECT },
    storage: [{ type: 'file', backend: 'file', node: 'testcloud', path_prefix: '/var/tmp/tc' }],
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const deadline = Date.now() + 90000;
  for (;;) {
    const c = await server.call('GET', `/api/v1/clusters/${r.body.id}`, token);
    if (c.body.sync_status === 'Done' && !c.body.sync_error) return r.body.id;
    assert.ok(Date.now() < deadline, `cluster ${name} did not sync: ${JSON.stringify(c.body)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

describe('protection groups and recovery plans console', () => {
  before(async () => {
    [server, source, target] = await Promise.all([
      startServer(),
      startTestCloud({ servers: 8, volumes: 12, projects: 2 }),
      startTestCloud({ servers: 2, volumes: 2, projects: 1 }),
    ]);
    browser = await launch();
    const admin = await server.login('admin', ADMIN_PASSWORD);
    const g = await server.call('POST', '/api/v1/groups', admin, { name: 'dr-ops', description: '' });
    assert.equal(g.status, 201, JSON.stringify(g.body));
    const lic = await server.call('GET', '/api/v1/licence', admin);
    const put = await server.call('PUT', '/api/v1/licence', admin, {
      licence_key: server.licenceKey(lic.body.product_uuid),
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await Promise.all([
      register(admin, 'seoul-dc1', g.body.id, source),
      register(admin, 'busan-dr', g.body.id, target),
    ]);
    const v = await server.call('POST', '/api/v1/users', admin, {
      id: 'vic', name: 'Vic', email: 'vic@example.com', role: 'viewer', groups: [g.body.id],
    });
    assert.equal(v.status, 201, JSON.stringify(v.body));
    viewerPassword = v.body.password;
    await server.call('DELETE', '/api/v1/sessions/current', admin);
  });

  after(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    if (browser) await browser.close();
    if (server) await server.stop();
    if (source) await source.stop();
    if (target) await target.stop();
    for (const p of pages) assert.deepEqual(p.problems, [], 'browser errors');
  });

  let page;
  let groupUrl;
  let planUrl;

  it('creates a protection group: source cluster, project, unprotected instances', async () => {
    ({ page } = await open());
    await loginAs(page, 'admin', ADMIN_PASSWORD);
    const nav = page.getByRole('navigation', { name: 'Main menu' });
    await nav.getByRole('link', { name: 'Protection groups', exact: true }).click();
    await page.waitForURL(/\/console\/protection-groups$/);
    await page.locator('#pgroups-table .empty-row').waitFor();
    await page.getByRole('link', { name: 'Add protection group' }).click();
    await page.getByLabel('Source cluster').selectOption({ label: 'seoul-dc1' });
    await page.getByRole('button', { name: 'Show projects' }).click();
    await page.getByLabel('Project').selectOption({ label: 'project-000' });
    await page.getByRole('button', { name: 'Show unprotected instances' }).click();
    const checks = page.locator('#g-instances input[type=checkbox]');
    await checks.first().waitFor();
    assert.equal(await checks.count(), 4, 'project-000 holds 4 of the 8 servers');

    // Nothing selected: the API's refusal is shown in the form.
    const form = page.locator('#pgroup-form');
    await form.getByLabel('Name', { exact: true }).fill('shop-web');
    await form.getByLabel('RPO (minutes)').fill('15');
    await form.getByLabel('RTO (minutes)').fill('60');
    await form.getByRole('button', { name: 'Add protection group' }).click();
    const error = form.locator('[data-role=form-error]');
    await error.waitFor();
    assert.match(await error.textContent(), /instance/i);

    await form.getByLabel(/server-00000/).check();
    await form.getByLabel(/server-00002/).check();
    await form.getByLabel('Every').fill('2');
    await form.getByLabel('Unit').selectOption({ label: 'hours' });
    await shot(page, '30-pgroup-new');
    await form.getByRole('button', { name: 'Add protection group' }).click();
    await page.waitForURL(/\/console\/protection-groups\/[0-9a-f-]{36}$/);
    groupUrl = new URL(page.url()).pathname;
    await page.locator('.toast', { hasText: 'Protection group added' }).waitFor();
    await page.getByRole('heading', { name: 'shop-web', exact: true }).waitFor();
    assert.equal(await page.locator('#pgroup-instances tr[data-instance]').count(), 2);
    const facts = await page.locator('#pgroup-facts').textContent();
    assert.match(facts, /seoul-dc1/);
    assert.match(facts, /project-000/);
    assert.match(facts, /every 2 hours/);
    assert.match(facts, /no plan yet/);
    await shot(page, '31-pgroup-detail');
  });

  it('creates the plan through the form with choices from the target, and shows its state with reasons', async () => {
    await page.getByRole('link', { name: 'Add recovery plan' }).click();
    await page.waitForURL(/\/console\/plans\/new\?group=/);
    await page.getByLabel('Target cluster').selectOption({ label: 'busan-dr' });
    await page.getByRole('button', { name: 'Use this target' }).click();
    const form = page.locator('#plan-form');
    await form.waitFor();
    // The choices are the target's synced resources.
    const zones = await form.getByLabel('Availability zone').locator('option').allTextContents();
    assert.deepEqual(zones.sort(), ['az2', 'nova']);
    const nodes = await form.getByLabel('Compute node of server-00000').locator('option').allTextContents();
    assert.ok(nodes.some((n) => /compute-0000 \(nova\)/.test(n)), nodes.join('|'));
    assert.equal(await form.locator('#plan-networks select').count(), 1, 'the group uses one network');

    await form.getByLabel('Name', { exact: true }).fill('shop-dr-plan');
    await form.getByLabel('Snapshot retention').fill('4');
    await form.getByLabel('Target project name').fill('shop-dr');
    await form.getByLabel('Availability zone').selectOption('nova');
    await form.getByLabel('Target type for __DEFAULT__').selectOption('__DEFAULT__');
    await form.locator('#plan-networks select').selectOption({ label: 'Create a copy' });
    await form.getByLabel('Boot of server-00000').selectOption({ label: 'Boot group 1' });
    await form.getByLabel('Boot of server-00002').selectOption({ label: 'Boot group 2' });
    await form.getByLabel('Compute node of server-00002').selectOption('compute-0000');

    // A retention out of range: the API's words in the form, nothing saved.
    await form.getByLabel('Snapshot retention').fill('49');
    await form.getByRole('button', { name: 'Add plan' }).click();
    await form.locator('[data-role=form-error]', { hasText: /retention/i }).waitFor();
    await form.getByLabel('Snapshot retention').fill('4');
    await shot(page, '32-plan-new');
    await form.getByRole('button', { name: 'Add plan' }).click();
    await page.waitForURL(/\/console\/plans\/[0-9a-f-]{36}$/);
    planUrl = new URL(page.url()).pathname;
    await page.locator('.toast', { hasText: 'Recovery plan added' }).waitFor();
    const badge = page.locator('#plan-state [data-role=plan-state]');
    await badge.waitFor();
    const state = await badge.getAttribute('data-value');
    assert.ok(['Normal', 'Prepare', 'Warning', 'Critical', 'Emergency'].includes(state), state);
    // Without agents replication cannot run: the state says why, in words.
    const reasons = page.locator('#plan-state [data-role=plan-reasons] li');
    assert.ok(await reasons.count() >= 1, 'the state has its reasons');
    const facts = await page.locator('#plan-facts').textContent();
    assert.match(facts, /shop-web/);
    assert.match(facts, /busan-dr/);
    assert.match(facts, /shop-dr/);
    const boot = page.locator('#plan-boot tbody tr[data-instance]');
    assert.equal(await boot.count(), 2);
    assert.match(await page.locator('#plan-boot').textContent(), /server-00002/);
    assert.match(await page.locator('#plan-boot').textContent(), /Boot group 2/);
    assert.match(await page.locator('#plan-boot').textContent(), /compute-0000/);
    await shot(page, '33-plan-detail');

    // The saved mapping is what the form chose.
    const mapping = await page.evaluate(async (url) => (await (await fetch(url)).json()).mapping,
      planUrl.replace('/console/', '/api/v1/'));
    assert.equal(mapping.project_name, 'shop-dr');
    assert.deepEqual(mapping.volume_types, { __DEFAULT__: '__DEFAULT__' });
    assert.deepEqual(Object.values(mapping.networks), ['create']);
    const orders = Object.values(mapping.instances).map((i) => i.start_order).sort();
    assert.deepEqual(orders, [0, 1]);
    assert.equal(Object.values(mapping.instances).filter((i) => i.node === 'compute-0000').length, 1);
  });

  it('lists the plan with its state and reasons, edits it, and the group refuses deletion while planned', async () => {
    await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Recovery plans' }).click();
    await page.waitForURL(/\/console\/plans$/);
    const row = page.locator('#plans-table tr[data-plan="shop-dr-plan"]');
    await row.waitFor();
    await row.locator('[data-role=plan-state]').waitFor();
    assert.ok(await row.locator('[data-role=plan-reasons] li').count() >= 1);
    assert.match(await row.textContent(), /busan-dr/);
    await shot(page, '34-plans');

    await page.goto(planUrl);
    await page.getByRole('link', { name: 'Edit plan' }).click();
    await page.waitForURL(/\/edit$/);
    const form = page.locator('#plan-form');
    assert.equal(await form.getByLabel('Target project name').inputValue(), 'shop-dr');
    assert.equal(await form.getByLabel('Boot of server-00002').inputValue(), '1');
    await form.getByLabel('Snapshot retention').fill('6');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(new RegExp(planUrl + '$'));
    await page.locator('.toast', { hasText: 'Recovery plan saved' }).waitFor();
    assert.match(await page.locator('#plan-facts').textContent(), /Snapshot retention6/);

    await page.goto(groupUrl);
    await page.locator('[data-role=plan] [data-role=plan-state]').waitFor();
    await page.getByRole('button', { name: 'Delete protection group' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Yes, do it' }).click();
    await page.locator('.toast.error', { hasText: /plan/ }).waitFor();
    assert.match(page.url(), new RegExp(groupUrl + '$'));
  });

  it('shows a Viewer no create, edit or delete; the server refuses them', async () => {
    const { page: vp } = await open();
    await loginAs(vp, 'vic', viewerPassword);
    await vp.goto('/console/protection-groups');
    await vp.locator('#pgroups-table tr[data-group="shop-web"]').waitFor();
    assert.equal(await vp.getByRole('link', { name: 'Add protection group' }).count(), 0);
    await vp.goto(groupUrl);
    await vp.getByRole('heading', { name: 'shop-web', exact: true }).waitFor();
    assert.equal(await vp.getByRole('button', { name: 'Delete protection group' }).count(), 0);
    assert.equal(await vp.locator('#pgroup-edit').count(), 0);
    await vp.goto('/console/plans');
    await vp.locator('#plans-table tr[data-plan="shop-dr-plan"]').waitFor();
    assert.equal(await vp.getByRole('link', { name: 'Add recovery plan' }).count(), 0);
    await vp.goto(planUrl);
    await vp.locator('#plan-state [data-role=plan-state]').waitFor();
    assert.equal(await vp.getByRole('link', { name: 'Edit plan' }).count(), 0);
    assert.equal(await vp.getByRole('button', { name: 'Delete plan' }).count(), 0);
    await shot(vp, '35-plan-viewer');
    for (const url of ['/console/protection-groups/new', '/console/plans/new', planUrl + '/edit']) {
      assert.equal((await vp.goto(url)).status(), 403, url);
    }
    await vp.goto(planUrl);
    const statuses = await vp.evaluate(async ([plan, group]) => {
      const csrf = document.querySelector('meta[name="csrf-token"]').content;
      const headers = { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' };
      const patch = await fetch(plan, { method: 'PATCH', headers, body: '{"retention": 2}' });
      const delPlan = await fetch(plan, { method: 'DELETE', headers });
      const delGroup = await fetch(group, { method: 'DELETE', headers });
      return [patch.status, delPlan.status, delGroup.status];
    }, [planUrl.replace('/console/', '/api/v1/'), groupUrl.replace('/console/protection-groups/', '/api/v1/protection-groups/')]);
    assert.deepEqual(statuses, [403, 403, 403]);
  });

  it('reads in Korean and narrow, then deletes the plan and the group after confirmation', async () => {
    await page.goto('/console/lang/ko?next=/console/plans');
    await page.getByRole('heading', { name: '복구계획', exact: true }).waitFor();
    await page.locator('#plans-table tr[data-plan="shop-dr-plan"]').waitFor();
    await shot(page, '36-plans-ko');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(planUrl + '/edit');
    await page.locator('#plan-form').waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
    await shot(page, '37-plan-edit-narrow-ko');
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto('/console/lang/en?next=' + encodeURIComponent(planUrl));

    const dialog = page.locator('#confirm-dialog');
    await page.getByRole('button', { name: 'Delete plan' }).click();
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), /Delete recovery plan shop-dr-plan/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Delete plan' }).click();
    await dialog.getByRole('button', { name: 'Yes, do it' }).click();
    await page.waitForURL(/\/console\/plans$/);
    await page.locator('.toast', { hasText: 'Recovery plan deleted' }).waitFor();
    await page.locator('#plans-table .empty-row').waitFor();

    await page.goto(groupUrl);
    await page.getByRole('button', { name: 'Delete protection group' }).click();
    await dialog.getByRole('button', { name: 'Yes, do it' }).click();
    await page.waitForURL(/\/console\/protection-groups$/);
    await page.locator('.toast', { hasText: 'Protection group deleted' }).waitFor();
    await page.locator('#pgroups-table .empty-row').waitFor();
  });
});
