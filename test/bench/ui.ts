/**
 * The labelling panel's latency in real VS Code (`npm run bench -- --suite ui`): runs the
 * Playwright UI tests (code-server + Chromium, the harness `npm test` installs under .e2e/), whose
 * labelling test presses Enter six times at a curator's pace (each once the host has answered the
 * one before) and three times in a burst; the webview times each Enter to the next image loaded.
 * Skipped, saying so, when the harness is not installed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

export function uiSuite(): Record<string, unknown> | undefined {
  if (!fs.existsSync(path.join(ROOT, '.e2e'))) {
    console.log('ui: skipped, the VS Code test harness is not installed (run `npm test` once)');
    return undefined;
  }
  const file = path.join(ROOT, 'test-results', 'labeling-latency.json');
  fs.rmSync(file, { force: true });
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/e2e.mjs'), '--skip-setup', '--ui-only'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (!fs.existsSync(file)) {
    console.log(`ui: the UI tests wrote no latency (exit ${r.status}); their output:\n${(r.stdout ?? '').split('\n').slice(-30).join('\n')}`);
    return undefined;
  }
  type Stats = { samples: number[]; p50: number; p95: number; max: number };
  const latency = JSON.parse(fs.readFileSync(file, 'utf8')) as Stats & { burst: Stats };
  console.log(
    `ui: Enter → next image shown, in the webview: p50 ${latency.p50} ms, p95 ${latency.p95} ms, max ${latency.max} ms over ${latency.samples.length} paced presses (target ≤ 100); ` +
      `${latency.burst.samples.length} presses in a burst: p50 ${latency.burst.p50} ms, max ${latency.burst.max} ms`,
  );
  return {
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadAverage: os.loadavg() },
    date: new Date().toISOString(),
    enterToNextImage: { ...latency, targetMs: 100 },
  };
}
