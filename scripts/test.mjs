// `npm test`: unit tests (node:test + tsx), then the e2e harness (scripts/e2e.mjs).
// Extra args are passed on to e2e.mjs (e.g. `npm test -- --no-ui`); `--unit-only` skips e2e.
// Prints a summary and a final `N passed, N failed` line; exits non-zero on any failure.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './e2e.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const unitOnly = argv.includes('--unit-only');
const e2eArgs = argv.filter((a) => a !== '--unit-only');

const secs = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
const rows = [];

// ---- unit tests (Node 20 has no --test globs: expand here) ----
{
  const t = Date.now();
  const dir = path.join(ROOT, 'test/unit');
  const files = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('test/unit', f))
    : [];
  console.log('=== unit tests');
  if (!files.length) {
    console.log('no test/unit/*.test.ts files');
    rows.push({ name: 'unit', code: 0, passed: 0, failed: 0, time: secs(t) });
  } else {
    // node's spec reporter ends with "ℹ pass N" / "ℹ fail N"; capture them via a tee.
    let out = '';
    const { spawn } = await import('node:child_process');
    const code = await new Promise((resolve) => {
      const c = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
        cwd: ROOT,
        stdio: ['inherit', 'pipe', 'pipe'],
      });
      c.stdout.on('data', (d) => {
        process.stdout.write(d);
        out += d.toString();
      });
      c.stderr.on('data', (d) => process.stderr.write(d));
      c.on('close', (code) => resolve(code ?? 1));
    });
    const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
    const num = (re) => {
      const all = [...plain.matchAll(re)];
      return all.length ? Number(all[all.length - 1][1]) : 0;
    };
    const passed = num(/^\S*\s*pass (\d+)\s*$/gm);
    let failed = num(/^\S*\s*fail (\d+)\s*$/gm);
    if (code !== 0 && !failed) failed = 1;
    rows.push({ name: 'unit', code, passed, failed, time: secs(t) });
  }
}

// ---- e2e (setup, build, vscode-test, UI tests) ----
if (!unitOnly) {
  const t = Date.now();
  console.log('\n=== e2e (scripts/e2e.mjs)');
  const r = await run(process.execPath, [path.join(ROOT, 'scripts/e2e.mjs'), ...e2eArgs]);
  rows.push({ name: 'e2e', ...r, time: secs(t) });
}

console.log('\n=== summary');
for (const r of rows) {
  console.log(`${r.code === 0 ? 'ok  ' : 'FAIL'} ${r.name.padEnd(5)} ${r.passed} passed, ${r.failed} failed (exit ${r.code}, ${r.time})`);
}
const passed = rows.reduce((a, r) => a + r.passed, 0);
const failed = rows.reduce((a, r) => a + r.failed, 0);
const bad = rows.some((r) => r.code !== 0);
console.log(`${passed} passed, ${failed || (bad ? 1 : 0)} failed`);
process.exit(bad ? 1 : 0);
