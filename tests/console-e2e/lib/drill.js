// The set-up of a drill that really runs, shared by the jobs and results tests: an
// orchestrator on RabbitMQ (a bus namespace of the test file's own), two test clouds
// with the given fixtures (source and target), a real agent on each cloud's Cinder
// pool (the target agent's node id is the target's Cinder host `testcloud`, so its
// exports are adopted at `testcloud@file#file`, as in tests/demo), a licence, an owner
// group, both clouds registered and synced, a protection group "shop" of the named
// servers and a plan "shop-to-busan" replicated until it is Normal with its first
// group snapshot. Everything through the API: the tests only look at the console.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { startServer, ADMIN_PASSWORD } from './server.js';
import { startTestCloud, CLOUD_USER, CLOUD_PASSWORD, CLOUD_PROJECT } from './testcloud.js';
import { startAgent, AMQP_URL } from './agent.js';

// The target agent's node id: the test cloud's Cinder host name.
export const TARGET_NODE = 'testcloud';

// Polls `check` until it returns a value other than undefined; at the deadline fails
// with `what` and the last value `check` reported through `seen`.
export async function until(what, check, { timeoutMs = 120000, everyMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    const v = await check((seen) => { last = seen; });
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${timeoutMs / 1000} s; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// `namespace`: the file's bus namespace; `sourceNode`: the source agent's node id;
// `sourceFixture`/`targetFixture`: the clouds; `servers`: the source servers the group
// protects, in boot order (one boot group each); `team`: the owner group's name;
// `serverConfig`: more lines of the orchestrator's config.
// `start()` sets everything up; `stop()` stops what was started (also after a failed
// start). After `start()`: server, source, target, agents, admin (a bearer token),
// teamId, clusters ({ source, target } ids), groupId, planId.
export function drillStack({ namespace, sourceNode, sourceFixture, targetFixture, servers, team = 'dr-team', serverConfig = [] }) {
  const stack = { agents: [] };

  async function api(method, path, body) {
    const r = await stack.server.call(method, path, stack.admin, body);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async function register(name, cloud, node) {
    const c = await api('POST', '/api/v1/clusters', {
      name, owner_group_id: stack.teamId, platform: 'openstack', auth_url: cloud.authUrl,
      credential: { username: CLOUD_USER, password: CLOUD_PASSWORD, project: CLOUD_PROJECT },
      storage: [{ type: 'file', backend: 'file', node, path_prefix: cloud.pool() }],
    });
    await until(`the sync of ${name}`, async (seen) => {
      const v = await api('GET', `/api/v1/clusters/${c.id}`);
      seen(v);
      assert.ok(!v.sync_error, `the sync of ${name} failed: ${JSON.stringify(v)}`);
      return v.sync_status === 'Done' ? true : undefined;
    }, { timeoutMs: 90000 });
    return c.id;
  }

  async function byName(cluster, kind) {
    const v = await api('GET', `/api/v1/clusters/${cluster}/resources/${kind}?limit=500`);
    return Object.fromEntries(v.items.map((r) => [r.name, r.id]));
  }

  async function setUp() {
    const lic = await api('GET', '/api/v1/licence');
    await api('PUT', '/api/v1/licence', { licence_key: stack.server.licenceKey(lic.product_uuid) });
    stack.teamId = (await api('POST', '/api/v1/groups', { name: team, description: 'the DR operators' })).id;
    const [src, dst] = await Promise.all([
      register('seoul-prod', stack.source, sourceNode),
      register('busan-dr', stack.target, TARGET_NODE),
    ]);
    stack.clusters = { source: src, target: dst };
    const ids = await byName(src, 'instances');
    const networks = await byName(src, 'networks');
    const publicNet = (await byName(dst, 'networks')).public;
    stack.groupId = (await api('POST', '/api/v1/protection-groups', {
      name: 'shop', description: 'the web shop', source_cluster_id: src, owner_group_id: stack.teamId,
      instances: servers.map((s) => ids[s]), rpo_minutes: 5, rto_minutes: 30,
      snapshot_interval: { kind: 'every_hours', n: 1 },
    })).id;
    stack.planId = (await api('POST', '/api/v1/plans', {
      group_id: stack.groupId, name: 'shop-to-busan', target_cluster_id: dst, retention: 4,
      mapping: {
        project_name: 'shop-dr', availability_zone: 'nova',
        networks: { [networks.back]: 'create' }, volume_types: { __DEFAULT__: '__DEFAULT__' },
        instances: Object.fromEntries(servers.map((s, i) => [ids[s], { start_order: i }])),
        external_network: publicNet,
      },
    })).id;
    // Replication through both agents, then the first group snapshot: the plan is Normal.
    await until('the plan reaching Normal with its first snapshot', async (seen) => {
      const p = await api('GET', `/api/v1/plans/${stack.planId}/state`);
      const snaps = await api('GET', `/api/v1/protection-groups/${stack.groupId}/snapshots`);
      seen({ state: p.state, reasons: p.reasons, snapshots: snaps.total });
      return p.state === 'Normal' && snaps.total >= 1 ? true : undefined;
    }, { timeoutMs: 180000, everyMs: 500 });
  }

  stack.api = api;

  stack.agentLogs = () => stack.agents.map((a) => `${a.node}:\n${a.log().split('\n').slice(-40).join('\n')}`).join('\n---\n');

  stack.start = async () => {
    const [server, source, target] = await Promise.all([
      startServer({
        extraConfig: [
          `bus_url = ${JSON.stringify(AMQP_URL)}`, `bus_namespace = ${JSON.stringify(namespace)}`,
          ...serverConfig,
        ],
      }),
      startTestCloud({ fixture: sourceFixture }),
      startTestCloud({ fixture: targetFixture }),
    ]);
    Object.assign(stack, { server, source, target });
    mkdirSync(target.pool(), { recursive: true });
    stack.agents.push(
      startAgent({ namespace, node: sourceNode, backend: { name: 'file', path: source.pool() } }),
      startAgent({ namespace, node: TARGET_NODE, backend: { name: 'file', path: target.pool() } }),
    );
    stack.admin = await server.login('admin', ADMIN_PASSWORD);
    try {
      await setUp();
    } catch (e) {
      e.message += '\n--- agent logs ---\n' + stack.agentLogs();
      throw e;
    }
  };

  stack.stop = async () => {
    for (const a of stack.agents) await a.stop();
    if (stack.server) await stack.server.stop();
    if (stack.source) await stack.source.stop();
    if (stack.target) await stack.target.stop();
  };

  return stack;
}
