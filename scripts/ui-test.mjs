// Playwright-driven UI tests against a real workbench (code-server + headless Chromium).
// Usage: node scripts/ui-test.mjs [--extension DIR] [--workspace DIR] [files...]
//   defaults: extension = repo root, workspace = test/fixtures/workspace, files = test/e2e-ui/*.ui.mjs
// A UI test file is an ES module; every exported async function is a test, called with
//   { page, workspace, screenshot(name), runCommand(title), openTaxonView(), log }
// Tests run in file order, export order, sharing one workbench. Screenshots go to test-results/.
// On failure a screenshot test-results/FAIL-<file>-<test>.png is taken.
// Prints `N passed, N failed` last; exits 1 on any failure.
// Env: TAXON_UI_TIMEOUT_MS (overall, default 300000), TAXON_UI_ACTIVITY (activity-bar label, default "Taxon").
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ROOT, RESULTS, cleanStale, killGroupSync, launchChromium, log, makeTmp, rmrf,
  startCodeServer, workbenchUrl, writeSettings,
} from './e2e-lib.mjs';

const argv = process.argv.slice(2);
let extension = ROOT;
let workspace = path.join(ROOT, 'test/fixtures/workspace');
const files = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--extension') extension = path.resolve(argv[++i]);
  else if (argv[i] === '--workspace') workspace = path.resolve(argv[++i]);
  else files.push(path.resolve(argv[i]));
}
if (!files.length) {
  const dir = path.join(ROOT, 'test/e2e-ui');
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.ui.mjs')) files.push(path.join(dir, f));
  }
}
const ACTIVITY = process.env.TAXON_UI_ACTIVITY || 'Taxon';
const TIMEOUT_MS = Number(process.env.TAXON_UI_TIMEOUT_MS || 300000);

let passed = 0;
let failed = 0;
let tmp;
let cs;
let browser;
let done = false;

async function cleanup(code) {
  if (done) return;
  done = true;
  try {
    await browser?.close();
  } catch {
    /* gone */
  }
  await cs?.stop();
  if (tmp) rmrf(tmp);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code);
}
process.on('exit', () => cs && killGroupSync(cs.pid));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => cleanup(130));
setTimeout(() => {
  log(`UI tests: overall timeout (${TIMEOUT_MS} ms)`);
  failed++;
  cleanup(1);
}, TIMEOUT_MS).unref();

const safe = (s) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

async function main() {
  if (!files.length) {
    log('no UI test files (test/e2e-ui/*.ui.mjs)');
    return cleanup(0);
  }
  await cleanStale();
  fs.mkdirSync(RESULTS, { recursive: true });
  tmp = makeTmp('txu-');
  const userDataDir = path.join(tmp, 'ud');
  const extensionsDir = path.join(tmp, 'ext');
  fs.mkdirSync(extensionsDir, { recursive: true });
  writeSettings(userDataDir);
  const t0 = Date.now();
  cs = await startCodeServer({ tmp, userDataDir, extensionsDir, logName: 'ui-code-server' });
  const launched = await launchChromium(tmp, { viewport: { width: 1400, height: 900 } });
  browser = launched.browser;
  const page = launched.page;
  page.on('crash', () => {
    log('page crashed');
    failed++;
    cleanup(1);
  });
  const pageErrors = fs.openSync(path.join(RESULTS, 'ui-page.log'), 'w');
  page.on('console', (m) => fs.writeSync(pageErrors, `[${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => fs.writeSync(pageErrors, `[pageerror] ${e?.stack || e}\n`));

  await page.goto(workbenchUrl(cs.port, workspace, { devPaths: [extension] }));
  const activity = page.locator(`.activitybar [aria-label^="${ACTIVITY}"]`).first();
  try {
    await page.waitForFunction(() => window.driver, null, { timeout: 90000 });
    await page.evaluate(() => window.driver.whenWorkbenchRestored());
    await activity.waitFor({ timeout: 90000 });
  } catch (e) {
    await page.screenshot({ path: path.join(RESULTS, 'FAIL-ui-startup.png') }).catch(() => {});
    throw new Error(`workbench / "${ACTIVITY}" activity-bar item did not appear: ${e.message}`);
  }
  log(`workbench ready with "${ACTIVITY}" in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const screenshot = async (name) => {
    const file = path.join(RESULTS, name.endsWith('.png') ? name : `${name}.png`);
    await page.screenshot({ path: file });
    return file;
  };
  /** Run a command from the palette by its title; retries (the palette can snapshot too early). */
  const runCommand = async (title, { attempts = 4 } = {}) => {
    for (let i = 1; i <= attempts; i++) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10000 });
      await input.fill(`>${title}`);
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
      try {
        await row.waitFor({ timeout: 5000 });
        await page.keyboard.press('Enter');
        return;
      } catch (e) {
        if (i === attempts) throw new Error(`command "${title}" not found in the palette`);
        await page.waitForTimeout(1000);
      }
    }
  };
  /** Open the Taxon view container (no-op when it is already visible). */
  const openTaxonView = async () => {
    const title = page.locator('.part.sidebar .title-label h2').first();
    const open = async () => (await title.isVisible().catch(() => false)) &&
      new RegExp(ACTIVITY, 'i').test((await title.textContent().catch(() => '')) || '');
    if (!(await open())) await page.locator(`.activitybar [aria-label^="${ACTIVITY}"]`).first().click();
    await page.waitForFunction(
      (re) => new RegExp(re, 'i').test(document.querySelector('.part.sidebar .title-label h2')?.textContent || ''),
      ACTIVITY, { timeout: 10000 });
  };
  const ctx = { page, workspace, screenshot, runCommand, openTaxonView, log };

  for (const file of files) {
    const rel = path.relative(ROOT, file);
    let mod;
    try {
      mod = await import(pathToFileURL(file).href);
    } catch (e) {
      failed++;
      console.log(`  ✗ ${rel}: cannot load: ${e?.stack || e}`);
      continue;
    }
    console.log(rel);
    for (const [name, fn] of Object.entries(mod)) {
      if (typeof fn !== 'function') continue;
      const t = Date.now();
      try {
        await fn(ctx);
        passed++;
        console.log(`  ✔ ${name} (${Date.now() - t} ms)`);
      } catch (e) {
        failed++;
        console.log(`  ✗ ${name} (${Date.now() - t} ms)\n    ${String(e?.stack || e).replace(/\n/g, '\n    ')}`);
        await screenshot(`FAIL-${safe(path.basename(file, '.ui.mjs'))}-${safe(name)}`).catch(() => {});
      }
    }
  }
  return cleanup(failed ? 1 : 0);
}

main().catch((e) => {
  log(`UI tests: ${e?.stack || e}`);
  failed++;
  cleanup(1);
});
