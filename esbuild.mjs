// Builds the extension host bundle, the validation worker, the `taxon` CLI and the webview bundle(s).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
  bundle: true,
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
};

const nodeExternal = ['vscode', 'onnxruntime-node', 'sharp'];

const builds = [
  {
    ...common,
    entryPoints: {
      extension: 'src/host/extension.ts',
      worker: 'src/host/worker.ts',
      embedWorker: 'src/host/embedWorker.ts',
      learnWorker: 'src/host/learnWorker.ts',
      sessionWorker: 'src/host/sessionWorker.ts',
      galleryWorker: 'src/host/galleryWorker.ts',
      inferenceWorker: 'src/core/model/inferenceWorker.ts',
      objectiveWorker: 'src/core/learn/objectiveWorker.ts',
    },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nodeExternal,
    // jsonc-parser's UMD main requires its own files at run time; its ESM build bundles whole.
    mainFields: ['module', 'main'],
  },
  {
    ...common,
    entryPoints: { cli: 'src/cli/main.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nodeExternal,
    // jsonc-parser's UMD main requires its own files at run time; its ESM build bundles whole.
    mainFields: ['module', 'main'],
    banner: { js: '#!/usr/bin/env node' },
  },
];

const webviewEntries = fs.existsSync('webview')
  ? Object.fromEntries(
      fs
        .readdirSync('webview')
        .filter((f) => /^[a-z-]+\.ts$/.test(f) && f !== 'protocol.ts')
        .map((f) => [f.replace(/\.ts$/, ''), `webview/${f}`]),
    )
  : {};
if (Object.keys(webviewEntries).length > 0) {
  builds.push({
    ...common,
    entryPoints: webviewEntries,
    outdir: 'dist/webview',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  });
}

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('esbuild: watching');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  fs.chmodSync('dist/cli.js', 0o755);
}
