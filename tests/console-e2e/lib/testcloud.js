// Starts the OpenStack test cloud (`holdfast-testcloud`, built by `cargo build -p
// holdfast-testcloud`) on 127.0.0.1 port 0 with a generated fixture (servers, volumes,
// projects) and its volume files in a fresh temp dir; learns the port from its log.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './server.js';

// The bootstrap identity of the test cloud.
export const CLOUD_USER = 'admin';
export const CLOUD_PASSWORD = 'secret';
export const CLOUD_PROJECT = 'admin';

function binaryPath() {
  if (process.env.HOLDFAST_TESTCLOUD_BIN) return process.env.HOLDFAST_TESTCLOUD_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(repoRoot, 'target');
  return join(target, 'debug', 'holdfast-testcloud');
}

// `fixture` (optional): the fixture as an object, instead of a generated one.
export async function startTestCloud({ servers = 25, volumes = 30, projects = 2, timeoutMs = 30000, fixture: given } = {}) {
  const bin = binaryPath();
  if (!existsSync(bin)) throw new Error(`test cloud binary not found at ${bin}: build it (cargo build -p holdfast-testcloud) or set HOLDFAST_TESTCLOUD_BIN`);
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-console-e2e-cloud-'));
  const fixture = join(dir, 'fixture.json');
  if (given) writeFileSync(fixture, JSON.stringify(given));
  else {
    execFileSync(bin, ['generate-fixture', '--servers', String(servers), '--volumes', String(volumes),
      '--projects', String(projects), '--out', fixture]);
  }
  const env = { ...process.env, NO_COLOR: '1', RUST_LOG: 'info' };
  for (const k of Object.keys(env)) if (k.startsWith('TESTCLOUD_')) delete env[k];
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--storage-dir', join(dir, 'volumes'), '--fixture', fixture],
    { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const base = await new Promise((resolveBase, reject) => {
    const timer = setTimeout(() => reject(new Error('the test cloud did not start in time:\n' + log.join('\n'))), timeoutMs);
    const onLine = (line) => {
      log.push(line);
      if (log.length > 2000) log.shift();
      // eslint-disable-next-line no-control-regex
      const m = line.replace(/\x1b\[[0-9;]*m/g, '').match(/test cloud started addr=(\S+)/);
      if (m) { clearTimeout(timer); resolveBase(`http://${m[1]}`); }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the test cloud exited with ${code}:\n${log.join('\n')}`)); });
  });

  async function stop() {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }

  // The volume files of Cinder backend/pool `name` (`testcloud@name#name`).
  const pool = (name = 'file') => join(dir, 'volumes', name, name);
  return { base, authUrl: `${base}/v3`, log, stop, pool };
}
