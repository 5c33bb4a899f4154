// Starts a real node agent (`holdfast-agent run`, built by `cargo build -p holdfast-agent`)
// on the RabbitMQ bus the test's orchestrator uses (a fresh namespace per run), with a
// file backend in a temp dir; it heartbeats every second.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './server.js';

export const AMQP_URL = process.env.HOLDFAST_TEST_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/%2f';

// The bus namespace of the console tests: fixed, so that runs reuse one set of durable
// exchanges and queues on the shared RabbitMQ instead of leaving a new set each time.
export const BUS_NAMESPACE = process.env.HOLDFAST_E2E_BUS_NAMESPACE || 'hf-console-e2e';

function binaryPath() {
  if (process.env.HOLDFAST_AGENT_BIN) return process.env.HOLDFAST_AGENT_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(repoRoot, 'target');
  return join(target, 'debug', 'holdfast-agent');
}

// `backends` (optional): the agent's volume backends, `[{ name, path }]` of kind file
// (e.g. a test cloud's volume pool); `backend`: one such backend; by default one
// backend `files` in the temp dir.
export function startAgent({ namespace, node, backends, backend }) {
  const bin = binaryPath();
  if (!existsSync(bin)) throw new Error(`agent binary not found at ${bin}: build it (cargo build -p holdfast-agent) or set HOLDFAST_AGENT_BIN`);
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-console-e2e-agent-'));
  const volumes = join(dir, 'volumes');
  mkdirSync(volumes);
  const served = backends || (backend ? [backend] : [{ name: 'files', path: volumes }]);
  const config = join(dir, 'agent.toml');
  writeFileSync(config, [
    `node_id = ${JSON.stringify(node)}`,
    `bus_url = ${JSON.stringify(AMQP_URL)}`,
    `bus_namespace = ${JSON.stringify(namespace)}`,
    `state_dir = ${JSON.stringify(join(dir, 'state'))}`,
    'heartbeat_interval_ms = 1000',
    '',
    '[data_plane]',
    'listen = "127.0.0.1:0"',
    '',
    ...served.flatMap((b) => [
      '[[backends]]',
      `name = ${JSON.stringify(b.name)}`,
      'kind = "file"',
      `path = ${JSON.stringify(b.path)}`,
      '',
    ]),
  ].join('\n'));
  const logPath = join(dir, 'agent.log');
  const out = openSync(logPath, 'a');
  const env = { ...process.env, RUST_LOG: 'info', NO_COLOR: '1' };
  const child = spawn(bin, ['run', '--config', config], { env, stdio: ['ignore', 'ignore', out] });

  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }

  return { node, stop, log: () => { try { return readFileSync(logPath, 'utf8'); } catch (_) { return ''; } } };
}
