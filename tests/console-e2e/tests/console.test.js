// The console in headless Chromium against the real orchestrator (SQLite, port 0).
// One server and one browser for the file; each user has their own cookie jar.
// No sleeps: every wait is for a selector or a condition, with Playwright's deadline.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ADMIN_PASSWORD } from '../lib/server.js';
import { launch, newPage, shot, loginAs } from '../lib/browser.js';

let server;
let browser;
const pages = [];
const users = {};

async function open(opts) {
  const p = await newPage(browser, server.base, opts);
  pages.push(p);
  return p;
}

// Creates a user through the console's form; returns the one-time password shown.
async function createUserInConsole(page, { id, name, role, group }) {
  await page.goto('/console/users/new');
  await page.getByLabel(/User ID|사용자 ID/).fill(id);
  await page.getByLabel(/^Name/).fill(name);
  await page.getByLabel(/^E-mail/).fill(`${id}@example.com`);
  await page.getByLabel(/^Role/).selectOption(role);
  if (group) await page.getByLabel(group, { exact: true }).check();
  await page.getByRole('button', { name: 'Create user' }).click();
  const dialog = page.locator('#secret-dialog');
  await dialog.waitFor({ state: 'visible' });
  const password = (await page.locator('#secret-value').textContent()).trim();
  assert.match(password, /^\S{16}$/);
  return password;
}

async function closeSecretDialog(page, expectedUrl) {
  await page.getByRole('button', { name: 'I have noted it' }).click();
  await page.waitForURL(expectedUrl);
}

describe('web console', () => {
  before(async () => {
    server = await startServer();
    browser = await launch();
    // Set-up through the API before the admin logs in to the console (a new login
    // ends the previous session of the same user).
    const admin = await server.login('admin', ADMIN_PASSWORD);
    for (const [id, role] of [['locky', 'viewer'], ['vera', 'viewer']]) {
      const r = await server.call('POST', '/api/v1/users', admin, {
        id, name: id, email: `${id}@example.com`, role, groups: [],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      users[id] = r.body.password;
    }
    // Enough users for two pages of the user list (20 a page).
    for (let i = 1; i <= 21; i++) {
      const id = `bulk-${String(i).padStart(2, '0')}`;
      const r = await server.call('POST', '/api/v1/users', admin, {
        id, name: `Bulk ${i}`, email: `${id}@example.com`, role: 'viewer', groups: [],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
  });

  after(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    if (browser) await browser.close();
    if (server) await server.stop();
    for (const p of pages) assert.deepEqual(p.problems, [], 'browser errors');
  });

  it('shows wrong-password and lockout messages at login', async () => {
    const { page } = await open();
    await page.goto('/');
    await page.waitForURL(/\/console\/login/);
    await shot(page, '01-login');
    const error = page.locator('[data-role=form-error]');
    for (let i = 1; i <= 4; i++) {
      await page.getByLabel('User ID').fill('locky');
      await page.getByLabel('Password', { exact: true }).fill(`wrong-${i}`);
      await page.getByRole('button', { name: 'Log in' }).click();
      await error.filter({ hasText: 'wrong user id or password' }).waitFor();
      assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '', 'password cleared');
      await page.evaluate(() => { document.querySelector('[data-role=form-error]').hidden = true; });
    }
    await page.getByLabel('User ID').fill('locky');
    await page.getByLabel('Password', { exact: true }).fill('wrong-5');
    await page.getByRole('button', { name: 'Log in' }).click();
    await error.filter({ hasText: 'The account is locked after too many failed logins' }).waitFor();
    // Even the right password is refused while locked.
    await page.getByLabel('Password', { exact: true }).fill(users.locky);
    await page.getByRole('button', { name: 'Log in' }).click();
    await error.filter({ hasText: /locked until \d{4}-/ }).waitFor();
    assert.match(page.url(), /\/console\/login/);
    await shot(page, '02-login-locked');
  });

  it('lets an Admin create a group and a user whose first password is shown once', async () => {
    const { page } = await open();
    await loginAs(page, 'admin', ADMIN_PASSWORD);
    await page.waitForURL(/\/console\/events/);
    // The menu: every menu of the product is there (none marked "not available yet").
    const nav = page.getByRole('navigation', { name: 'Main menu' });
    await nav.getByRole('link', { name: 'Recovery jobs' }).waitFor();
    assert.equal(await nav.getByText('not available yet').count(), 0);
    for (const name of ['Clusters', 'Protection groups', 'Recovery plans', 'Recovery jobs', 'Recovery results', 'Event centre', 'Agents', 'Licence', 'Users', 'User groups', 'Settings']) {
      await nav.getByRole('link', { name, exact: true }).waitFor();
    }
    // The lockout of the previous test is in the event centre.
    await page.locator('#events-table tr', { hasText: 'login.lockout' }).waitFor();
    await shot(page, '03-events');

    await nav.getByRole('link', { name: 'User groups' }).click();
    await page.getByRole('link', { name: 'New group' }).click();
    await page.getByLabel(/^Name/).fill('ops-seoul');
    await page.getByLabel('Description').fill('Seoul operations team');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.waitForURL(/\/console\/groups\/[0-9a-f-]{36}$/);
    await page.getByRole('heading', { name: 'ops-seoul' }).waitFor();
    await page.locator('.toast', { hasText: 'Group created' }).waitFor();
    // A duplicate name is refused with the API's message.
    await page.goto('/console/groups/new');
    await page.getByLabel(/^Name/).fill('ops-seoul');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.locator('[data-role=form-error]', { hasText: 'a group named "ops-seoul" exists' }).waitFor();

    // Validation messages are the API's.
    await page.goto('/console/users/new');
    await page.getByLabel(/User ID/).fill('9lives');
    await page.getByLabel(/^Name/).fill('Nine');
    await page.getByLabel(/^E-mail/).fill('nine@example.com');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('[data-role=form-error]', { hasText: 'user id must start with a lower-case letter a-z' }).waitFor();
    await shot(page, '04-user-form-error');

    const password = await createUserInConsole(page, { id: 'kim', name: 'Kim Min-jun', role: 'operator', group: 'ops-seoul' });
    await shot(page, '05-user-created-password');
    await closeSecretDialog(page, /\/console\/users\/kim$/);
    users.kim = password;
    await page.getByRole('heading', { name: 'Kim Min-jun (kim)' }).waitFor();
    await shot(page, '06-user-detail');

    // Search and filter the list.
    await page.goto('/console/users');
    await page.getByLabel('Search', { exact: true }).fill('kim');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=kim/);
    const rows = page.locator('#users-table tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().textContent(), /Kim Min-jun.*Operator.*ops-seoul/s);
    await page.goto('/console/users?role=viewer&q=ve');
    await page.locator('#users-table tr[data-user=vera]').waitFor();
    assert.equal(await page.locator('#users-table tr[data-user=kim]').count(), 0);
    // Pagination: 25 users, 20 a page.
    await page.goto('/console/users');
    await page.locator('[data-role=range]', { hasText: '1–20 of 25' }).waitFor();
    assert.equal(await page.locator('#users-table tbody tr').count(), 20);
    await shot(page, '07-users');
    await page.getByRole('link', { name: 'Next' }).click();
    await page.locator('[data-role=range]', { hasText: '21–25 of 25' }).waitFor();
    assert.equal(await page.locator('#users-table tbody tr').count(), 5);
    assert.equal(await page.getByRole('link', { name: 'Next' }).count(), 0);
    await page.getByRole('link', { name: 'Previous' }).click();
    await page.locator('[data-role=range]', { hasText: '1–20 of 25' }).waitFor();
    await page.goto('/console/groups');
    await page.locator('#groups-table tr[data-group=ops-seoul]').waitFor();
    await shot(page, '08-groups');

    // The new user logs in with the one-time password and changes it under the policy.
    const kim = await open();
    await loginAs(kim.page, 'kim', users.kim);
    await kim.page.goto('/console/account');
    await kim.page.getByLabel('Current password').fill(users.kim);
    await kim.page.locator('#p-new').fill('short');
    await kim.page.getByLabel('New password again').fill('short');
    assert.equal(await kim.page.locator('#password-policy [data-rule=upper]').getAttribute('data-met'), 'false');
    await kim.page.getByRole('button', { name: 'Change password' }).click();
    await kim.page.locator('[data-role=form-error]', { hasText: 'password must be 6 to 16 characters long (it has 5)' }).waitFor();
    await kim.page.locator('#p-new').fill('longerbutweak');
    await kim.page.getByLabel('New password again').fill('longerbutweak');
    await kim.page.getByRole('button', { name: 'Change password' }).click();
    await kim.page.locator('[data-role=form-error]', { hasText: 'password is missing an upper-case letter, a digit, a special character' }).waitFor();
    await shot(kim.page, '09-account-password-policy');
    await kim.page.locator('#p-new').fill('Seoul#2026');
    await kim.page.getByLabel('New password again').fill('Seoul#2026');
    await kim.page.getByRole('button', { name: 'Change password' }).click();
    await kim.page.locator('.toast', { hasText: 'Password changed' }).waitFor();
    users.kim = 'Seoul#2026';
  });

  it('hides mutations from a Viewer, and the server refuses them too', async () => {
    const { page } = await open();
    await loginAs(page, 'vera', users.vera);
    const nav = page.getByRole('navigation', { name: 'Main menu' });
    await nav.getByRole('link', { name: 'Event centre' }).waitFor();
    for (const name of ['Users', 'User groups', 'Licence', 'Settings']) {
      assert.equal(await nav.getByRole('link', { name, exact: true }).count(), 0, `${name} hidden`);
    }
    for (const path of ['/console/users', '/console/users/new', '/console/groups/new', '/console/licence', '/console/settings']) {
      const resp = await page.goto(path);
      assert.equal(resp.status(), 403, path);
      await page.getByRole('heading', { name: 'Not permitted' }).waitFor();
      assert.equal(await page.locator('main form[data-api], main button[data-api]').count(), 0, `no mutation controls on ${path}`);
    }
    await shot(page, '10-viewer-forbidden');
    await page.goto('/console/events');
    assert.equal(await page.locator('main form[data-api], main button[data-api]').count(), 0);

    // Forcing the hidden actions through the API with the Viewer's own session.
    const results = await page.evaluate(async () => {
      const csrf = document.querySelector('meta[name=csrf-token]').content;
      const send = async (method, url, body, withCsrf = true) => {
        const headers = { 'Content-Type': 'application/json' };
        if (withCsrf) headers['X-CSRF-Token'] = csrf;
        const r = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
        return { status: r.status, code: (await r.json()).error.code };
      };
      return {
        createUser: await send('POST', '/api/v1/users', { id: 'sneaky', name: 'S', email: 's@example.com', role: 'viewer', groups: [] }),
        deleteUser: await send('DELETE', '/api/v1/users/kim'),
        createGroup: await send('POST', '/api/v1/groups', { name: 'sneaky' }),
        licence: await send('PUT', '/api/v1/licence', { licence_key: 'HFL1.a.b' }),
        settings: await send('PATCH', '/api/v1/settings', { lockout_minutes: 1 }),
        noCsrf: await send('POST', '/api/v1/groups', { name: 'sneaky' }, false),
      };
    });
    for (const [what, r] of Object.entries(results)) {
      assert.equal(r.status, 403, `${what}: ${JSON.stringify(r)}`);
    }
    assert.equal(results.noCsrf.code, 'csrf');
    assert.equal(results.createUser.code, 'forbidden');
  });

  it('shows a new event live without a reload, and registers a licence', async () => {
    const { context, page } = await open();
    await loginAs(page, 'admin', ADMIN_PASSWORD);
    await page.goto('/console/events');
    await page.locator('body.live-connected').waitFor();
    await page.evaluate(() => { window.__notReloaded = true; });
    const before = await page.locator('#events-table tr[data-event-id]').count();

    const other = await context.newPage();
    await other.goto('/console/licence');
    await other.locator('[data-role=licence-status]', { hasText: 'No licence' }).waitFor();
    const uuid = (await other.locator('#product-uuid').textContent()).trim();
    await other.getByLabel('Licence key').fill('HFL1.bm90.c2ln');
    await other.getByRole('button', { name: 'Register' }).click();
    await other.locator('[data-role=form-error]', { hasText: 'The licence key was refused' }).waitFor();
    await other.getByLabel('Licence key').fill(server.licenceKey(uuid, { instances: 250 }));
    await other.getByRole('button', { name: 'Register' }).click();
    await other.locator('[data-role=licence-status]', { hasText: 'Valid' }).waitFor();
    await other.locator('.toast', { hasText: 'Licence registered' }).waitFor();
    await other.getByText('250', { exact: true }).waitFor();
    await shot(other, '11-licence');

    const row = page.locator('#events-table tr.new', { hasText: 'licence.registered' });
    await row.waitFor();
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was not reloaded');
    assert.equal(await page.locator('#events-table tr[data-event-id]').count(), before + 1);
    await page.locator('[data-role=live-count]', { hasText: '1' }).waitFor();
    assert.match(await row.textContent(), /Info.*licence registered: 250 instances/s);
    await shot(page, '12-events-live');

    // Filters: the warning-level lockout only.
    await page.getByLabel('Severity').selectOption('warning');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/severity=warning/);
    await page.locator('#events-table tr', { hasText: 'login.lockout' }).waitFor();
    assert.equal(await page.locator('#events-table tr', { hasText: 'licence.registered' }).count(), 0);
    await page.locator('#events-table tr', { hasText: 'login.lockout' }).getByRole('link').click();
    await page.getByRole('heading', { name: 'Event' }).waitFor();
    await page.getByText('user: ').waitFor();
    await shot(page, '13-event-detail');
  });

  it('lets an Admin change settings, reset a password and delete a user after confirming', async () => {
    const { page } = await open();
    await loginAs(page, 'admin', ADMIN_PASSWORD);
    await page.goto('/console/settings');
    await page.getByLabel('Lockout time (minutes)').fill('0');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('[data-role=form-error]', { hasText: 'setting lockout_minutes: must be between 1 and 1440 (got 0)' }).waitFor();
    await page.getByLabel('Lockout time (minutes)').fill('10');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.toast', { hasText: 'Settings saved' }).waitFor();
    assert.equal(await page.getByLabel('Lockout time (minutes)').inputValue(), '10');
    // Event e-mail: a login needs transport security; the password is write-only.
    await page.getByLabel('SMTP server (host:port)').fill('mail.example.net:587');
    await page.getByLabel('Recipients').fill('ops@example.net\noncall@example.net');
    await page.getByLabel('SMTP user name').fill('holdfast');
    await page.getByLabel('SMTP password').fill('Relay-secret-1');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('[data-role=form-error]', { hasText: 'smtp_username' }).waitFor();
    await page.getByLabel('Transport security').selectOption('starttls');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.toast', { hasText: 'Settings saved' }).waitFor();
    await page.locator('#s-password-hint', { hasText: 'A password is stored' }).waitFor();
    assert.equal(await page.getByLabel('Transport security').inputValue(), 'starttls');
    assert.equal(await page.getByLabel('Recipients').inputValue(), 'ops@example.net\noncall@example.net');
    assert.ok(!(await page.content()).includes('Relay-secret-1'), 'the password is never shown');
    await shot(page, '14-settings');

    await page.goto('/console/users/kim');
    const edit = page.locator('#user-edit');
    await edit.getByLabel(/^Name/).fill(' Kim ');
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.locator('[data-role=form-error]', { hasText: 'name must not start or end with spaces' }).waitFor();
    await edit.getByLabel(/^Name/).fill('Kim Min-jun (Seoul)');
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.locator('.toast', { hasText: 'Changes saved' }).waitFor();
    await page.getByRole('heading', { name: 'Kim Min-jun (Seoul) (kim)' }).waitFor();
    await page.getByRole('button', { name: 'Reset password' }).click();
    await page.locator('#confirm-dialog').waitFor({ state: 'visible' });
    await page.getByRole('button', { name: 'Yes, do it' }).click();
    await page.locator('#secret-dialog').waitFor({ state: 'visible' });
    const fresh = (await page.locator('#secret-value').textContent()).trim();
    assert.notEqual(fresh, users.kim);
    await closeSecretDialog(page, /\/console\/users\/kim$/);
    users.kim = fresh;

    await page.goto('/console/users/locky');
    await page.getByRole('button', { name: 'Delete user' }).click();
    const confirm = page.locator('#confirm-dialog');
    await confirm.waitFor({ state: 'visible' });
    await shot(page, '15-delete-confirm');
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    assert.match(page.url(), /\/console\/users\/locky$/);
    await page.getByRole('button', { name: 'Delete user' }).click();
    await page.getByRole('button', { name: 'Yes, do it' }).click();
    await page.waitForURL(/\/console\/users$/);
    await page.locator('.toast', { hasText: 'User deleted' }).waitFor();
    assert.equal(await page.locator('#users-table tr[data-user=locky]').count(), 0);
    // The Admin account offers no delete.
    await page.goto('/console/users/admin');
    await page.getByRole('heading', { name: /\(admin\)/ }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Delete user' }).count(), 0);
  });

  it('lets a Manager act only within their groups, and shows the licence read-only', async () => {
    const admin = await open();
    await loginAs(admin.page, 'admin', ADMIN_PASSWORD);
    const password = await createUserInConsole(admin.page, { id: 'mira', name: 'Mira Park', role: 'manager', group: 'ops-seoul' });
    await closeSecretDialog(admin.page, /\/console\/users\/mira$/);
    // Members of a group: add vera.
    await admin.page.goto('/console/groups');
    await admin.page.locator('#groups-table tr[data-group=ops-seoul] a').click();
    const members = admin.page.locator('#members-form');
    await members.getByLabel('vera — vera').check();
    await members.getByRole('button', { name: 'Save members' }).click();
    await admin.page.locator('.toast', { hasText: 'Members saved' }).waitFor();
    await admin.page.getByRole('heading', { name: 'Members (3)' }).waitFor();
    await shot(admin.page, '16-group-members');

    const { page } = await open();
    await loginAs(page, 'mira', password);
    const nav = page.getByRole('navigation', { name: 'Main menu' });
    for (const name of ['Users', 'User groups', 'Licence']) await nav.getByRole('link', { name, exact: true }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Settings' }).count(), 0);
    // Only the users of the Manager's group.
    await page.goto('/console/users');
    await page.locator('#users-table tr[data-user=kim]').waitFor();
    assert.deepEqual(
      (await page.locator('#users-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.user))).sort(),
      ['kim', 'mira', 'vera'],
    );
    await shot(page, '17-manager-users');
    const resp = await page.goto('/console/users/admin');
    assert.equal(resp.status(), 403);
    // A new user can only get the Manager's groups and a non-Admin role.
    await page.goto('/console/users/new');
    const roles = await page.getByLabel(/^Role/).locator('option').evaluateAll((o) => o.map((x) => x.value));
    assert.deepEqual(roles, ['manager', 'operator', 'viewer']);
    assert.deepEqual(await page.locator('input[name=groups]').evaluateAll((i) => i.length), 1);
    // The licence is readable, not changeable.
    await page.goto('/console/licence');
    await page.locator('[data-role=licence-status]', { hasText: 'Valid' }).waitFor();
    assert.equal(await page.locator('#licence-form').count(), 0);
    const refused = await page.evaluate(async () => {
      const r = await fetch('/api/v1/licence', {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content },
        body: JSON.stringify({ licence_key: 'HFL1.a.b' }),
      });
      return r.status;
    });
    assert.equal(refused, 403);
  });

  it('speaks Korean, works from the keyboard, and fits a narrow window', async () => {
    const { page } = await open({ locale: 'ko-KR', width: 390, height: 844 });
    await page.goto('/console/login');
    await page.getByRole('heading', { name: '로그인' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'ko');
    // Keyboard only: the first field has focus; Tab to the password, Enter submits.
    await page.locator('#login-id:focus').waitFor();
    await page.keyboard.type('kim');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Wrong#2026x');
    await page.keyboard.press('Enter');
    await page.locator('[data-role=form-error]', { hasText: '사용자 ID 또는 비밀번호가 올바르지 않습니다.' }).waitFor();
    await shot(page, '18-login-ko-narrow');
    await page.getByLabel('비밀번호', { exact: true }).fill(users.kim);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/console\/events/);
    await page.getByRole('heading', { name: '이벤트' }).waitFor();
    // The menu is behind a button on a narrow window.
    const toggle = page.getByRole('button', { name: /메뉴/ });
    assert.equal(await page.locator('#sidebar').isVisible(), false);
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await page.locator('#sidebar a[href="/console/jobs"]').waitFor();
    await shot(page, '19-menu-ko-narrow');
    await page.keyboard.press('Escape');
    await page.locator('#sidebar').waitFor({ state: 'hidden' });
    // An Operator has no Users, Licence or Settings menu.
    assert.equal(await page.locator('#sidebar a[href="/console/users"]').count(), 0);
    // The language switch is remembered.
    await page.getByRole('link', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Event centre' }).waitFor();
    await page.goto('/console/account');
    await page.getByRole('heading', { name: 'My account' }).waitFor();
    // Logging out ends the session on the server.
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/console\/login/);
    const resp = await page.goto('/console/account');
    assert.match(resp.url(), /\/console\/login\?next=%2Fconsole%2Faccount$/);
    const status = await page.evaluate(async () => (await fetch('/api/v1/account')).status);
    assert.equal(status, 401);
  });
});
