// `npm start`: build Taxon and serve it in code-server (VS Code in the browser) on 127.0.0.1,
// with the extension loaded from this repository and the sample/ workspace opened.
// Env: PORT (default 8080; a free port is used when it is taken), TAXON_START_FOLDER (default sample/).
// Options: --skip-setup, --skip-build. State lives in .e2e/start/. Ctrl+C stops code-server.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  ROOT, cleanStale, killGroupSync, log, makeTmp, portFree, rmrf, startCodeServer, writeSettings,
} from './e2e-lib.mjs';

const args = new Set(process.argv.slice(2));
const STATE = path.join(ROOT, '.e2e/start');
const userDataDir = path.join(STATE, 'user-data');
const extensionsDir = path.join(STATE, 'extensions');
const folder = path.resolve(ROOT, process.env.TAXON_START_FOLDER || 'sample');

if (!args.has('--skip-setup')) {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/setup-e2e.sh'), '--no-chromium'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status || 1);
}
if (!args.has('--skip-build')) {
  const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('build failed (node esbuild.mjs)');
    process.exit(1);
  }
}

// Install the development extension: a symlink <extensions-dir>/taxon.taxon-<version> -> repo root,
// registered in the extensions dir's extensions.json (VS Code only loads extensions listed there).
function linkExtension() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const id = `${pkg.publisher}.${pkg.name}`;
  const dirName = `${id}-${pkg.version}`;
  fs.mkdirSync(extensionsDir, { recursive: true });
  for (const e of fs.readdirSync(extensionsDir)) {
    if (e.startsWith(`${id}-`) && e !== dirName) rmrf(path.join(extensionsDir, e));
  }
  const link = path.join(extensionsDir, dirName);
  let ok = false;
  try {
    ok = fs.readlinkSync(link) === ROOT;
  } catch {
    /* missing */
  }
  if (!ok) {
    rmrf(link);
    fs.symlinkSync(ROOT, link, 'dir');
  }
  const manifest = path.join(extensionsDir, 'extensions.json');
  let list = [];
  try {
    list = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  } catch {
    /* new */
  }
  list = list.filter((e) => e?.identifier?.id?.toLowerCase() !== id.toLowerCase());
  list.push({
    identifier: { id },
    version: pkg.version,
    location: { $mid: 1, path: link, scheme: 'file' },
    relativeLocation: dirName,
    metadata: { installedTimestamp: Date.now(), source: 'vsix', pinned: true },
  });
  fs.writeFileSync(manifest, JSON.stringify(list));
  // make VS Code rescan instead of trusting a stale cache
  rmrf(path.join(extensionsDir, '.obsolete'));
  return id;
}

await cleanStale();
fs.mkdirSync(folder, { recursive: true });
const id = linkExtension();
writeSettings(userDataDir, { 'workbench.startupEditor': 'none' });
let port = Number(process.env.PORT || 8080);
if (!(await portFree(port))) {
  log(`port ${port} is taken, using a free one`);
  port = 0;
}
const tmp = makeTmp('txst-');
let cs;
let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping code-server…');
  await cs?.stop();
  rmrf(tmp);
  process.exit(code);
}
process.on('exit', () => cs && killGroupSync(cs.pid));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => stop(0));

try {
  cs = await startCodeServer({
    tmp, userDataDir, extensionsDir, port, smokeDriver: false, logName: 'start-code-server',
    openPath: folder,
  });
} catch (e) {
  console.error(String(e?.message || e));
  await stop(1);
}
cs.child.on('exit', (c, s) => {
  if (!stopping) {
    console.error(`code-server exited (code ${c}, signal ${s}); log: ${cs.logFile}`);
    stop(1);
  }
});
const url = `http://127.0.0.1:${cs.port}/?folder=${encodeURIComponent(folder)}`;
console.log('');
console.log(`  Taxon (${id}) is running in code-server:`);
console.log(`  ${url}`);
console.log('');
console.log(`  workspace: ${path.relative(ROOT, folder) || '.'}   log: ${path.relative(ROOT, cs.logFile)}   Ctrl+C to stop`);
