// Fake `code` executable for @vscode/test-cli (useInstallation.fromPath -> scripts/code-shim.sh).
// Runs the extension tests in code-server's extension host, driven by headless Chromium.
// Exit code: 0 = all tests passed, 1 = failures / harness error. Prints `N passed, N failed` last.
// Env: TAXON_E2E_TIMEOUT_MS (overall timeout, default 300000), TAXON_E2E_VERBOSE=1 (show workbench noise).
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import {
  RESULTS, cleanStale, killGroupSync, launchChromium, log, makeTmp, rmrf,
  startCodeServer, stripAnsi, workbenchUrl, writeSettings,
} from './e2e-lib.mjs';

const TIMEOUT_MS = Number(process.env.TAXON_E2E_TIMEOUT_MS || 300000);
const VERBOSE = process.env.TAXON_E2E_VERBOSE === '1';

// ---- argv (see recipe section 3); unknown flags are ignored ----
const argv = process.argv.slice(2);
const opt = { devPaths: [], positional: [] };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (!m) {
    opt.positional.push(a);
    continue;
  }
  const [, key, inline] = m;
  const takesValue = ['extensionTestsPath', 'extensionDevelopmentPath', 'extensions-dir', 'user-data-dir'].includes(key);
  const val = takesValue ? (inline ?? argv[++i]) : inline;
  if (key === 'extensionDevelopmentPath') opt.devPaths.push(val);
  else if (key === 'extensionTestsPath') opt.testsPath = val;
  else if (key === 'extensions-dir') opt.extensionsDir = val;
  else if (key === 'user-data-dir') opt.userDataDir = val;
}
const folder = opt.positional[0] ? path.resolve(opt.positional[0]) : undefined;
const userDataDir = path.resolve(opt.userDataDir || '.vscode-test/user-data');
const extensionsDir = path.resolve(opt.extensionsDir || '.vscode-test/extensions');

// ---- result bookkeeping ----
fs.mkdirSync(RESULTS, { recursive: true });
const wbLog = fs.openSync(path.join(RESULTS, 'e2e-workbench.log'), 'w');
let passed = 0;
let failed = 0;
const NOISE = new RegExp('^(' + [
  '\\[AgentHost', '\\[ChatModelSelection\\]', '\\[AccountPolicyGate\\]', '\\[reconnection-grace-time\\]',
  '\\[Service Worker\\]', '\\[Extension Host\\] Creating a socket', 'Creating a socket', 'Resolving connection token',
  'Resolved connection token', 'Updating additional builtin', 'Timed out waiting for authentication provider',
  '.*ENOTFOUND', '.*extension gallery', '.*marketplace',
].join('|') + ')', 'i');

function onLog(level, args) {
  let text;
  try {
    text = Array.isArray(args) ? util.format(...args) : String(args);
  } catch {
    text = String(args);
  }
  fs.writeSync(wbLog, text + '\n');
  for (const line of stripAnsi(text).split('\n')) {
    const p = /^\s*(\d+) passing\b/.exec(line);
    if (p) passed = Number(p[1]);
    const f = /^\s*(\d+) failing\b/.exec(line);
    if (f) failed = Number(f[1]);
  }
  if (VERBOSE || !NOISE.test(stripAnsi(text))) console.log(text);
}

let tmp;
let cs;
let browser;
let finishing = false;

async function finish(code, logFiles) {
  if (finishing) return;
  finishing = true;
  if (code !== 0 && Array.isArray(logFiles) && logFiles.length) {
    const dir = path.join(RESULTS, 'e2e-logs');
    rmrf(dir);
    for (const f of logFiles) {
      try {
        const dest = path.join(dir, f.relativePath.replace(/^(\.\.\/)+/, ''));
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.writeFileSync(dest, f.contents);
      } catch {
        /* ignore */
      }
    }
    log(`workbench logs saved to ${path.relative(process.cwd(), dir)}`);
  }
  if (code !== 0) {
    // Also keep the server-side logs (extension host) of this run.
    try {
      const logsRoot = path.join(userDataDir, 'logs');
      const latest = fs.readdirSync(logsRoot).sort().pop();
      if (latest) fs.cpSync(path.join(logsRoot, latest), path.join(RESULTS, 'e2e-server-logs'), { recursive: true });
    } catch {
      /* none */
    }
  }
  try {
    await browser?.close();
  } catch {
    /* already gone */
  }
  await cs?.stop();
  if (tmp) rmrf(tmp);
  if (code !== 0 && failed === 0) failed = 1; // harness error / timeout counts as a failure
  console.log(`${passed} passed, ${failed} failed`);
  fs.closeSync(wbLog);
  process.exit(code);
}

process.on('exit', () => cs && killGroupSync(cs.pid));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`received ${sig}, cleaning up`);
    finish(130);
  });
}

async function main() {
  await cleanStale();
  if (!opt.testsPath) throw new Error('no --extensionTestsPath given');
  tmp = makeTmp('txs-');
  writeSettings(userDataDir);
  fs.mkdirSync(extensionsDir, { recursive: true });
  // VSCODE_TEST_OPTIONS must reach the extension host: pass our whole env on.
  cs = await startCodeServer({ tmp, userDataDir, extensionsDir, logName: 'e2e-code-server' });
  log(`code-server listening on port ${cs.port}`);
  cs.child.on('exit', (c, s) => {
    if (!finishing) {
      log(`code-server exited unexpectedly (code ${c}, signal ${s})`);
      finish(1);
    }
  });
  const launched = await launchChromium(tmp);
  browser = launched.browser;
  const page = launched.page;
  await page.exposeFunction('codeAutomationLog', onLog);
  await page.exposeFunction('codeAutomationExit', (code, logFiles) => {
    setTimeout(() => finish(code === 0 ? 0 : 1, logFiles), 0);
  });
  page.on('crash', () => {
    log('page crashed');
    finish(1);
  });
  page.on('pageerror', (e) => fs.writeSync(wbLog, `[pageerror] ${e?.stack || e}\n`));
  browser.on('disconnected', () => {
    if (!finishing) {
      log('browser disconnected');
      finish(1);
    }
  });
  const url = workbenchUrl(cs.port, folder, { devPaths: opt.devPaths, testsPath: opt.testsPath });
  await page.goto(url);
}

setTimeout(() => {
  log(`overall timeout (${TIMEOUT_MS} ms) reached`);
  finish(1);
}, TIMEOUT_MS).unref();

main().catch((e) => {
  log(`error: ${e?.stack || e}`);
  finish(1);
});
