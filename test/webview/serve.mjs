// Serves the repository over http on localhost for the labelling-webview harness (not shipped).
// `/` is test/webview/labeling-harness.html filled in the way src/host/labelingPanel.ts fills the
// real panel's HTML (same CSP, nonce and URIs); `/harness-data.js` is the fake host's queue and a
// 30,000-path taxonomy built from sample/tinyimagenet-sample. Run alone: node test/webview/serve.mjs [port]
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = 'sample/tinyimagenet-sample/images';
export const TAXONOMY_SIZE = 30_000;

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpeg': 'image/jpeg',
  '.jpg': 'image/jpeg',
  '.ttf': 'font/ttf',
};

/** A deterministic generator, so the taxonomy and the probabilities are the same every run. */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Names that must show as text, never as markup. */
export const HOSTILE_NAMES = ['<script>window.__pwned = 1</script>', '<img src=x onerror="window.__pwned = 2">', 'O\'Brien "quoted" & <b>bold</b>'];

/** The sample's folder tree (235 nodes), padded with invented genus/species nodes to TAXONOMY_SIZE paths. */
function buildHarnessData() {
  const rootDir = path.join(ROOT, SAMPLE);
  const realPaths = [];
  const leafOfWnid = new Map();
  const walk = (dir, prefix) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory()) {
        const p = [...prefix, entry.name];
        realPaths.push(p);
        walk(path.join(dir, entry.name), p);
      } else if (prefix.length > 0) {
        leafOfWnid.set(entry.name.split('_')[0], prefix);
      }
    }
  };
  walk(rootDir, []);

  const rand = random(9);
  const syllables = ['ra', 'mo', 'ti', 'lex', 'van', 'dor', 'si', 'qua', 'pel', 'nu', 'cor', 'bi', 'za', 'fen', 'ul', 'gri', 'tho', 'mar', 'ki', 'sol'];
  const word = (n) => Array.from({ length: n }, () => syllables[Math.floor(rand() * syllables.length)]).join('');
  const internal = realPaths.filter((p) => realPaths.some((q) => q.length === p.length + 1 && q.slice(0, p.length).join('/') === p.join('/')));
  const paths = [...realPaths, ...HOSTILE_NAMES.map((name) => ['animal', name])];
  const seen = new Set(paths.map((p) => p.join('/')));
  while (paths.length < TAXONOMY_SIZE) {
    const parent = internal[Math.floor(rand() * internal.length)];
    const genus = [...parent, `${word(2)}idae`];
    if (!seen.has(genus.join('/'))) {
      seen.add(genus.join('/'));
      paths.push(genus);
    }
    for (let i = 0, n = 3 + Math.floor(rand() * 12); i < n && paths.length < TAXONOMY_SIZE; i++) {
      const species = [...genus, `${word(2)} ${word(3)}`];
      if (seen.has(species.join('/'))) continue;
      seen.add(species.join('/'));
      paths.push(species);
    }
  }

  const leaves = [...leafOfWnid.values()];
  const queue = fs
    .readdirSync(rootDir)
    .filter((f) => /_3\.JPEG$/i.test(f))
    .sort()
    .map((file) => {
      const truth = leafOfWnid.get(file.split('_')[0]);
      let p = 0.995;
      const predicted = truth.map((node, level) => {
        p *= level === 0 ? 1 : 0.72 + 0.28 * rand();
        return { level, node, p: Math.round(p * 1000) / 1000 };
      });
      const confidentDepth = predicted.filter((l) => l.p >= 0.8).length;
      const alternatives = [{ path: truth, p: predicted.at(-1).p }];
      let rest = 1 - alternatives[0].p;
      while (alternatives.length < 5) {
        const other = leaves[Math.floor(rand() * leaves.length)];
        if (alternatives.some((a) => a.path.join('/') === other.join('/'))) continue;
        const q = Math.round(rest * (0.3 + 0.4 * rand()) * 1000) / 1000;
        rest -= q;
        alternatives.push({ path: other, p: q });
      }
      return { image: file, src: `/${SAMPLE}/${file}`, score: Math.round(rand() * 1e4) / 1e4, predicted, confidentDepth, alternatives };
    });
  return { paths, queue };
}

/** Starts the server on 127.0.0.1 (port 0 = any free port); resolves to { url, close }. */
export function serve(port = 0) {
  const data = `window.__harnessData = ${JSON.stringify(buildHarnessData())};\n`;
  const template = fs.readFileSync(path.join(ROOT, 'test/webview/labeling-harness.html'), 'utf8');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const origin = `http://${req.headers.host}`;
    if (url.pathname === '/' || url.pathname === '/harness') {
      const nonce = crypto.randomBytes(16).toString('base64');
      const html = template
        .replaceAll('${nonce}', nonce)
        .replaceAll('${webview.cspSource}', origin)
        .replaceAll('${mediaUri}', `${origin}/media`)
        .replaceAll('${codiconsUri}', `${origin}/node_modules/@vscode/codicons/dist/codicon.css`)
        .replaceAll('${distUri}', `${origin}/dist`);
      res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' });
      res.end(html);
      return;
    }
    if (url.pathname === '/harness-data.js') {
      res.writeHead(200, { 'content-type': TYPES['.js'] });
      res.end(data);
      return;
    }
    const file = path.resolve(ROOT, '.' + decodeURIComponent(url.pathname));
    if (!file.startsWith(ROOT + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    // Images may be cached like a webview's resources; code must never be stale.
    const isImage = /\.(jpe?g|png)$/i.test(file);
    res.writeHead(200, { 'content-type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream', 'cache-control': isImage ? 'max-age=3600' : 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address();
      resolve({ url: `http://127.0.0.1:${actual}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await serve(Number(process.argv[2] ?? 8765));
  console.log(`labelling harness: ${url}/?theme=dark  (light | dark | hc)`);
}
