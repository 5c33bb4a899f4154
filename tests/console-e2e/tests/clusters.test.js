// The clusters menu in headless Chromium: register a cluster against a real test cloud
// (after a refused registration that names the failing check, and storage metadata
// refused under the field it names), watch its first sync finish, browse its synced
// resources with paging and filters, sync again, edit (a Ceph backend in its typed
// fields), a refused password rotation, a sync started through the API shown live in
// the open list, the list, and delete with confirmation.
// No sleeps: every wait is for a selector or a condition, with Playwright's deadline.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ADMIN_PASSWORD } from '../lib/server.js';
import { startTestCloud, CLOUD_USER, CLOUD_PASSWORD, CLOUD_PROJECT } from '../lib/testcloud.js';
import { launch, newPage, shot, loginAs } from '../lib/browser.js';

let server;
let cloud;
let browser;
const pages = [];
const SERVERS = 25;
let viewerPassword;

async function open(opts) {
  const p = await newPage(browser, server.base, opts);
  pages.push(p);
  return p;
}

async function fillRegistration(page, { name, password }) {
  await page.locator('#c-name').fill(name);
  await page.getByLabel('Owner group').selectOption({ label: 'dr-ops' });
  await page.getByLabel('Keystone URL').fill(cloud.authUrl);
  await page.getByLabel('User', { exact: true }).fill(CLOUD_USER);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Project', { exact: true }).fill(CLOUD_PROJECT);
  await page.locator('#c-description').fill('Seoul primary site');
}

// Submits the registration form and confirms in the dialog (as the manual's add flow).
async function submitRegistration(page, { cancelFirst = false } = {}) {
  const dialog = page.locator('#confirm-dialog');
  if (cancelFirst) {
    await page.getByRole('button', { name: 'Check connection and register' }).click();
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), /register this cluster/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
  }
  await page.getByRole('button', { name: 'Check connection and register' }).click();
  await dialog.getByRole('button', { name: 'Yes, do it' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

// Waits until the detail page (which reloads itself while a sync runs) shows Done.
async function waitSyncDone(page) {
  await page.locator('[data-role=sync-status][data-value=Done]').waitFor({ timeout: 90000 });
}

describe('clusters console', () => {
  before(async () => {
    [server, cloud] = await Promise.all([startServer(), startTestCloud({ servers: SERVERS })]);
    browser = await launch();
    const admin = await server.login('admin', ADMIN_PASSWORD);
    const g = await server.call('POST', '/api/v1/groups', admin, { name: 'dr-ops', description: '' });
    assert.equal(g.status, 201, JSON.stringify(g.body));
    // Registration needs a licence permitting OpenStack.
    const lic = await server.call('GET', '/api/v1/licence', admin);
    const put = await server.call('PUT', '/api/v1/licence', admin, {
      licence_key: server.licenceKey(lic.body.product_uuid),
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
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
    if (cloud) await cloud.stop();
    for (const p of pages) assert.deepEqual(p.problems, [], 'browser errors');
  });

  let page;
  let clusterUrl;

  it('refuses a registration whose connection check fails, naming the check', async () => {
    ({ page } = await open());
    await loginAs(page, 'admin', ADMIN_PASSWORD);
    const nav = page.getByRole('navigation', { name: 'Main menu' });
    await nav.getByRole('link', { name: 'Clusters', exact: true }).click();
    await page.waitForURL(/\/console\/clusters$/);
    await page.locator('#clusters-table .empty-row').waitFor();
    await page.getByRole('link', { name: 'Register cluster' }).click();
    await fillRegistration(page, { name: 'seoul-dc1', password: 'not-the-password' });
    await submitRegistration(page, { cancelFirst: true });
    assert.match(page.url(), /\/console\/clusters\/new$/);
    const error = page.locator('#cluster-form [data-role=form-error]');
    await error.filter({ hasText: 'Connection check failed: the user name or password is wrong.' }).waitFor();
    assert.match(await error.textContent(), /check connection failed/);
    assert.match(page.url(), /\/console\/clusters\/new$/);
    await shot(page, '20-cluster-register-refused');

    // A bad name is refused with the API's words, before any connection is made.
    await page.locator('#c-name').fill('bad name!');
    await submitRegistration(page);
    await error.filter({ hasText: 'cluster name' }).waitFor();
    // Storage metadata in typed fields per backend type; the API's refusal is shown
    // under the field it names, before any connection is made.
    await page.locator('#c-name').fill('seoul-dc1');
    const storage = page.locator('#register-storage');
    await storage.getByRole('button', { name: 'Add backend' }).click();
    const entry = storage.locator('[data-list-item]').first();
    assert.ok(await entry.getByLabel('Pool').isVisible(), 'a new entry starts as Ceph');
    await entry.getByLabel('Type').selectOption({ label: 'File / LVM' });
    assert.ok(await entry.getByLabel('Pool').isHidden(), 'the Ceph fields are hidden for a file backend');
    await entry.getByLabel('Cinder backend name').fill('lvm');
    await entry.getByLabel('Node').fill('storage-1');
    await entry.getByLabel('Path prefix').fill('dev/cinder-volumes');
    await submitRegistration(page);
    const fieldError = entry.locator('[data-field=path_prefix] .field-error');
    await fieldError.waitFor();
    assert.match(await fieldError.textContent(), /storage\.path_prefix: must be an absolute path/);
    assert.equal(await entry.getByLabel('Path prefix').getAttribute('aria-invalid'), 'true');
    assert.ok(await error.isHidden(), 'the message is at the field, not above the form');
    await shot(page, '20-cluster-register-storage-refused');
  });

  it('registers a cluster against the test cloud and shows its first sync finish', async () => {
    await fillRegistration(page, { name: 'seoul-dc1', password: CLOUD_PASSWORD });
    await page.locator('#register-storage [data-list-item]').getByLabel('Path prefix').fill('/dev/cinder-volumes');
    await page.getByLabel('Exchanges').fill('');
    await submitRegistration(page);
    await page.waitForURL(/\/console\/clusters\/[0-9a-f-]{36}$/);
    clusterUrl = new URL(page.url()).pathname;
    await page.getByRole('heading', { name: 'seoul-dc1' }).waitFor();
    await page.locator('.toast', { hasText: 'Cluster registered' }).waitFor();
    await waitSyncDone(page);
    await page.locator('[data-role=cluster-status]', { hasText: 'Active' }).waitFor();
    const instances = page.locator('#resource-counts tr[data-kind=instances] td.num');
    assert.equal((await instances.textContent()).trim(), String(SERVERS));
    await page.locator('#storage-title').waitFor();
    assert.match(await page.locator('#storage-table tr[data-backend=lvm]').textContent(),
      /File \/ LVM[\s\S]*storage-1[\s\S]*\/dev\/cinder-volumes/);
    assert.match(await page.locator('#cluster-facts').textContent(), /Seoul primary site/);
    await shot(page, '21-cluster-detail');
  });

  it('lists synced resources with paging and filters', async () => {
    await page.locator('#resource-counts').getByRole('link', { name: 'Instances', exact: true }).click();
    await page.waitForURL(/\/resources\/instances$/);
    const rows = page.locator('#resources-table tbody tr[data-resource]');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 20);
    assert.match(await page.locator('[data-role=range]').textContent(), new RegExp(`1–20 of ${SERVERS}`));
    await shot(page, '22-cluster-instances');
    await page.getByRole('link', { name: 'Next' }).click();
    await page.waitForURL(/offset=20/);
    assert.equal(await rows.count(), SERVERS - 20);
    // Search by the name of one instance.
    const name = (await rows.first().locator('[data-role=name]').textContent()).trim();
    assert.ok(name.length > 0);
    await page.getByLabel('Name or id contains').fill(name);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=/);
    assert.ok(await rows.count() >= 1);
    for (const text of await rows.locator('[data-role=name]').allTextContents()) assert.ok(text.includes(name), text);
    // Another kind, through the kind links.
    await page.getByRole('link', { name: 'Projects', exact: true }).click();
    await page.waitForURL(/\/resources\/projects$/);
    await rows.first().waitFor();
    await page.getByRole('link', { name: 'Back to the cluster' }).click();
    await page.waitForURL(new RegExp(clusterUrl + '$'));
  });

  it('syncs on demand, edits, and refuses a wrong password rotation', async () => {
    await page.goto(clusterUrl);
    await page.getByRole('button', { name: 'Sync now' }).click();
    await page.locator('.toast', { hasText: 'Sync started' }).waitFor();
    await waitSyncDone(page);

    const edit = page.locator('#cluster-edit');
    await edit.locator('#c-description').fill('Seoul primary site, rack 4');
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.locator('.toast', { hasText: 'Cluster saved' }).waitFor();
    assert.match(await page.locator('#cluster-facts').textContent(), /rack 4/);

    // A Ceph backend added in its typed fields: the API's refusal under the field, then saved.
    const storage = edit.locator('#edit-storage');
    assert.equal(await storage.locator('[data-list-item]').count(), 1);
    assert.equal(await storage.getByLabel('Path prefix').inputValue(), '/dev/cinder-volumes');
    await storage.getByRole('button', { name: 'Add backend' }).click();
    const ceph = storage.locator('[data-list-item]').nth(1);
    await ceph.getByLabel('Cinder backend name').fill('ceph-ssd');
    await ceph.getByLabel('Pool').fill('volumes');
    await ceph.getByLabel('Ceph user').fill('cinder');
    await ceph.getByLabel('Keyring reference').fill('/etc/ceph/ceph.client.cinder.keyring');
    await edit.getByRole('button', { name: 'Save' }).click();
    const monitors = ceph.locator('[data-field=monitors] .field-error');
    await monitors.waitFor();
    assert.match(await monitors.textContent(), /storage\.monitors: name at least one monitor/);
    await shot(page, '23-cluster-storage-refused');
    await ceph.getByLabel('Monitor hosts').fill('10.0.0.1:6789, 10.0.0.2');
    await edit.getByRole('button', { name: 'Save' }).click();
    const cephRow = page.locator('#storage-table tr[data-backend="ceph-ssd"]');
    await cephRow.waitFor();
    assert.match(await cephRow.textContent(), /Ceph RBD[\s\S]*10\.0\.0\.1:6789, 10\.0\.0\.2[\s\S]*volumes[\s\S]*cinder/);
    assert.equal(await page.locator('#edit-storage [data-list-item]').count(), 2);
    assert.equal(await page.locator('#edit-storage [data-list-item]').nth(1).getByLabel('Pool').inputValue(), 'volumes');

    const rot = page.locator('#cluster-password');
    await rot.getByLabel('Current password').fill('wrong-old');
    await rot.getByLabel('New password', { exact: true }).fill('N3w-secret');
    await rot.getByLabel('New password again').fill('N3w-secret');
    await rot.getByRole('button', { name: 'Rotate password' }).click();
    await rot.locator('[data-role=form-error]', { hasText: 'old_password does not match' }).waitFor();
    // The right old password, but Keystone refuses the new one: nothing is stored.
    await rot.getByLabel('Current password').fill(CLOUD_PASSWORD);
    await rot.getByRole('button', { name: 'Rotate password' }).click();
    await rot.locator('[data-role=form-error]', { hasText: 'Connection check failed' }).waitFor();
    await shot(page, '23-cluster-edit');
  });

  it('shows a sync started through the API live in the open list, without a reload', async () => {
    await page.goto('/console/clusters');
    await page.locator('#clusters-live[data-live=open]').waitFor();
    await page.evaluate(() => { window.holdfastNoReload = true; });
    const row = page.locator('#clusters-table tr[data-cluster="seoul-dc1"]');
    await row.locator('[data-role=sync-status][data-value=Done]').waitFor();
    const before = await row.locator('[data-live-cell=last_sync] time').getAttribute('datetime');
    // The test cloud answers server lists slowly for a while, so that Running lasts
    // longer than the stream's poll; the fault is removed once Running is shown.
    const added = await fetch(`${cloud.base}/_testcloud/faults`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ service: 'compute', method: 'GET', path_contains: '/servers', action: { kind: 'latency', ms: 2500 } }),
    });
    assert.equal(added.status, 201);
    const fault = (await added.json()).fault.id;
    try {
      const status = await page.evaluate(async (url) => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        return (await fetch(url, { method: 'POST', headers: { 'X-CSRF-Token': csrf } })).status;
      }, clusterUrl.replace('/console/', '/api/v1/') + '/sync');
      assert.equal(status, 202);
      await row.locator('[data-role=sync-status][data-value=Running]').waitFor({ timeout: 20000 });
      await shot(page, '24-clusters-sync-running');
    } finally {
      await fetch(`${cloud.base}/_testcloud/faults/${fault}`, { method: 'DELETE' });
    }
    await row.locator('[data-role=sync-status][data-value=Done]').waitFor({ timeout: 90000 });
    const after = await row.locator('[data-live-cell=last_sync] time').getAttribute('datetime');
    assert.ok(Date.parse(after) > Date.parse(before), `last sync ${before} → ${after}`);
    assert.equal(await row.locator('[data-role=sync-error]').count(), 0);
    assert.ok(await page.evaluate(() => window.holdfastNoReload === true), 'the page was not reloaded');
    assert.ok(Number(await page.locator('#clusters-live').getAttribute('data-live-updates')) >= 3, 'first rows, Running, Done');
  });

  it('shows a Viewer of the owner group the cluster without its actions; the server refuses them', async () => {
    const { page: vp } = await open();
    await loginAs(vp, 'vic', viewerPassword);
    await vp.goto('/console/clusters');
    await vp.locator('#clusters-table tr[data-cluster="seoul-dc1"]').waitFor();
    assert.equal(await vp.getByRole('link', { name: 'Register cluster' }).count(), 0);
    await vp.goto(clusterUrl);
    await vp.getByRole('heading', { name: 'seoul-dc1' }).waitFor();
    for (const name of ['Sync now', 'Delete cluster', 'Save', 'Rotate password']) {
      assert.equal(await vp.getByRole('button', { name }).count(), 0, name);
    }
    // The resource lists are readable.
    await vp.goto(clusterUrl + '/resources/volumes');
    await vp.locator('#resources-table tbody tr[data-resource]').first().waitFor();
    // Forcing the hidden actions: 403 from the API.
    const resp = await vp.goto('/console/clusters/new');
    assert.equal(resp.status(), 403);
    const statuses = await vp.evaluate(async (url) => {
      const csrf = document.querySelector('meta[name="csrf-token"]').content;
      const headers = { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' };
      const sync = await fetch(url + '/sync', { method: 'POST', headers });
      const del = await fetch(url, { method: 'DELETE', headers });
      return [sync.status, del.status];
    }, clusterUrl.replace('/console/', '/api/v1/'));
    assert.deepEqual(statuses, [403, 403]);
  });

  it('shows the cluster in the list, in Korean too, and deletes it after confirmation', async () => {
    await page.goto('/console/clusters');
    const row = page.locator('#clusters-table tr[data-cluster="seoul-dc1"]');
    await row.waitFor();
    const text = await row.textContent();
    assert.match(text, /dr-ops/);
    assert.match(text, /Active/);
    assert.match(text, /Done/);
    await shot(page, '24-clusters');
    await page.goto('/console/lang/ko?next=/console/clusters');
    await page.getByRole('heading', { name: '클러스터' }).waitFor();
    await page.locator('#clusters-table tr[data-cluster="seoul-dc1"]', { hasText: '활성' }).waitFor();
    await shot(page, '25-clusters-ko');
    // A narrow window: the table scrolls inside its box, the page does not.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('#clusters-table').waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
    await shot(page, '26-clusters-narrow');
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto('/console/lang/en?next=' + encodeURIComponent(clusterUrl));

    await page.getByRole('button', { name: 'Delete cluster' }).click();
    const dialog = page.locator('#confirm-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), /Delete cluster seoul-dc1/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Delete cluster' }).click();
    await dialog.getByRole('button', { name: 'Yes, do it' }).click();
    await page.waitForURL(/\/console\/clusters$/);
    await page.locator('.toast', { hasText: 'Cluster deleted' }).waitFor();
    await page.locator('#clusters-table .empty-row').waitFor();
  });
});
