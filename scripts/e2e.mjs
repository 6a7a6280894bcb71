// End-to-end tests: setup -> build -> compile test/e2e/*.test.ts -> `vscode-test` -> UI tests.
// Usage: node scripts/e2e.mjs [--skip-setup] [--skip-build] [--no-ui] [--ui-only]
// Prints `N passed, N failed` last (totals of both stages); exits non-zero if anything failed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const SKIP_SETUP = args.has('--skip-setup');
const SKIP_BUILD = args.has('--skip-build');
const NO_UI = args.has('--no-ui');
const UI_ONLY = args.has('--ui-only');
const SUMMARY = /^(\d+) passed, (\d+) failed\b/;

const say = (m) => console.log(`\n=== ${m}`);
const secs = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;

/** Run a command, stream its output, return { code, passed, failed } (from its `N passed, N failed` line). */
export function run(cmd, argv, { cwd = ROOT, env = process.env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd, env, stdio: ['inherit', 'pipe', 'pipe'] });
    let last = null;
    let buf = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const l of lines) {
        const m = SUMMARY.exec(l.replace(/\x1b\[[0-9;]*m/g, '').trim());
        if (m) last = { passed: Number(m[1]), failed: Number(m[2]) };
      }
    });
    child.stderr.on('data', (d) => process.stderr.write(d));
    const fwd = (sig) => child.kill(sig);
    process.on('SIGINT', fwd);
    process.on('SIGTERM', fwd);
    child.on('close', (code, sig) => {
      process.off('SIGINT', fwd);
      process.off('SIGTERM', fwd);
      const m = SUMMARY.exec(buf.trim());
      if (m) last = { passed: Number(m[1]), failed: Number(m[2]) };
      code = code ?? (sig ? 1 : 0);
      resolve({ code, passed: last?.passed ?? 0, failed: last?.failed ?? (code ? 1 : 0) });
    });
    child.on('error', (e) => {
      console.error(e);
      resolve({ code: 1, passed: 0, failed: 1 });
    });
  });
}

/** Bundle each test/e2e/*.test.ts into out/test/e2e/*.test.js (CommonJS, node, vscode external). */
export async function compileE2eTests() {
  const srcDir = path.join(ROOT, 'test/e2e');
  const outDir = path.join(ROOT, 'out/test/e2e');
  fs.rmSync(outDir, { recursive: true, force: true });
  const entries = fs.existsSync(srcDir)
    ? fs.readdirSync(srcDir).filter((f) => f.endsWith('.test.ts')).map((f) => path.join(srcDir, f))
    : [];
  if (!entries.length) return 0;
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: entries,
    outdir: outDir,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    external: ['vscode', 'playwright-core', 'assert', 'mocha'],
    logLevel: 'warning',
  });
  return entries.length;
}

async function main() {
  const total = { passed: 0, failed: 0 };
  let code = 0;
  const t0 = Date.now();

  if (!SKIP_SETUP) {
    say('setup (scripts/setup-e2e.sh)');
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/setup-e2e.sh')], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) {
      console.log('setup failed');
      console.log('0 passed, 1 failed');
      process.exit(1);
    }
  }
  if (!SKIP_BUILD) {
    say('build (node esbuild.mjs)');
    const t = Date.now();
    if (!fs.existsSync(path.join(ROOT, 'esbuild.mjs'))) {
      console.log('esbuild.mjs missing: cannot build the extension');
      console.log('0 passed, 1 failed');
      process.exit(1);
    }
    const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) {
      console.log('build failed');
      console.log('0 passed, 1 failed');
      process.exit(1);
    }
    console.log(`built in ${secs(t)}`);
  }

  // The tests edit annotation files: they get a fresh copy of the fixture workspace each run.
  const scratch = path.join(ROOT, '.vscode-test', 'workspace');
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.cpSync(path.join(ROOT, 'test/fixtures/workspace'), scratch, { recursive: true });

  if (!UI_ONLY) {
    say('e2e tests (vscode-test, extension host in code-server)');
    const t = Date.now();
    const n = await compileE2eTests();
    if (!n) {
      console.log('no test/e2e/*.test.ts files');
    } else {
      const r = await run(path.join(ROOT, 'node_modules/.bin/vscode-test'), []);
      total.passed += r.passed;
      total.failed += r.failed;
      if (r.code !== 0) code = 1;
      console.log(`e2e tests: exit ${r.code}, ${secs(t)}`);
    }
  }
  if (!NO_UI) {
    say('UI tests (scripts/ui-test.mjs)');
    const t = Date.now();
    const r = await run(process.execPath, [path.join(ROOT, 'scripts/ui-test.mjs'), '--workspace', scratch]);
    total.passed += r.passed;
    total.failed += r.failed;
    if (r.code !== 0) code = 1;
    console.log(`UI tests: exit ${r.code}, ${secs(t)}`);
  }
  if (code && !total.failed) total.failed = 1;
  console.log(`\ne2e total ${secs(t0)}`);
  console.log(`${total.passed} passed, ${total.failed} failed`);
  process.exit(code);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    console.log('0 passed, 1 failed');
    process.exit(1);
  });
}
