// Starts the real orchestrator (`holdfast serve`) on 127.0.0.1 port 0 with SQLite in a
// fresh temp dir, a known admin password, cheap argon2id, and a licence vendor key made
// for this run; learns the port from its JSON log line.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ADMIN_PASSWORD = 'Adm1n!pass';
const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');

function binaryPath() {
  if (process.env.HOLDFAST_BIN) return process.env.HOLDFAST_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(repoRoot, 'target');
  return join(target, 'debug', 'holdfast');
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// `extraConfig`: more top-level lines of holdfast.toml (e.g. the agents' bus).
export async function startServer({ timeoutMs = 30000, extraConfig = [] } = {}) {
  const bin = binaryPath();
  if (!existsSync(bin)) throw new Error(`orchestrator binary not found at ${bin}: build it (cargo build -p holdfast-orchestrator) or set HOLDFAST_BIN`);
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-console-e2e-'));
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const rawPublic = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  const config = [
    'bind = "127.0.0.1:0"',
    `data_dir = ${JSON.stringify(join(dir, 'data'))}`,
    `admin_password = ${JSON.stringify(ADMIN_PASSWORD)}`,
    'argon2_memory_kib = 64',
    'argon2_iterations = 1',
    'shutdown_grace_secs = 2',
    `licence_public_key = ${JSON.stringify(rawPublic.toString('base64'))}`,
    ...extraConfig,
    '[log]',
    'format = "json"',
    'level = "info"',
    '',
  ].join('\n');
  const configPath = join(dir, 'holdfast.toml');
  writeFileSync(configPath, config);
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HOLDFAST_')) delete env[k];
  const child = spawn(bin, ['serve', '--config', configPath], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const base = await new Promise((resolveBase, reject) => {
    const timer = setTimeout(() => reject(new Error('the orchestrator did not start listening in time:\n' + log.join('\n'))), timeoutMs);
    const onLine = (line) => {
      log.push(line);
      if (log.length > 2000) log.shift();
      try {
        const rec = JSON.parse(line);
        const fields = rec.fields || rec;
        const msg = fields.message || rec.message;
        if (msg === 'holdfast orchestrator listening' && fields.addr) {
          clearTimeout(timer);
          resolveBase(`http://${fields.addr}`);
        }
      } catch (_) { /* not JSON */ }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the orchestrator exited with ${code}:\n${log.join('\n')}`)); });
  });

  // A licence key for this installation, signed with this run's vendor key.
  function licenceKey(productUuid, { expires = '2099-12-31', instances = 100, platforms = ['openstack'] } = {}) {
    const payload = Buffer.from(JSON.stringify({
      product_uuid: productUuid, issued: '2026-01-01', expires, instance_limit: instances, platforms,
    }));
    const signature = sign(null, payload, privateKey);
    return `HFL1.${b64url(payload)}.${b64url(signature)}`;
  }

  async function stop() {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }

  // A JSON API call with a bearer token (set-up steps that are not under test).
  async function call(method, path, token, body) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }

  async function login(id, password) {
    const r = await call('POST', '/api/v1/sessions', null, { id, password });
    if (r.status !== 201) throw new Error(`login ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.token;
  }

  return { base, log, licenceKey, stop, call, login };
}
