// Activation time of the built extension (dist/extension.js) under a stand-in `vscode` module:
// everything activate() touches is a no-op, so the figure is Taxon's own import + registration cost.
// Prints one JSON line. Reference: the same stand-in activating an empty extension.
const Module = require('node:module');
const path = require('node:path');

function stub() {
  const handler = {
    get(target, prop) {
      if (prop === 'then') return undefined;
      if (prop === Symbol.iterator) return function* () {};
      if (prop === Symbol.toPrimitive) return () => '';
      return stub();
    },
    apply() {
      return stub();
    },
    construct() {
      return stub();
    },
  };
  return new Proxy(function () {}, handler);
}
const API = ['window', 'workspace', 'languages', 'commands', 'extensions', 'EventEmitter', 'CodeActionKind', 'CodeAction',
  'TreeItem', 'TreeItemCollapsibleState', 'ThemeIcon', 'ThemeColor', 'Uri', 'Range', 'Position', 'Diagnostic',
  'DiagnosticSeverity', 'MarkdownString', 'WorkspaceEdit', 'ProgressLocation', 'Disposable', 'ViewColumn'];
const vscode = Object.fromEntries(API.map((name) => [name, stub()]));
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'vscode') return 'vscode-stub';
  return resolve.call(this, request, ...rest);
};
require.cache['vscode-stub'] = { id: 'vscode-stub', filename: 'vscode-stub', loaded: true, exports: vscode };
process.on('unhandledRejection', () => {});

const which = process.argv[2];
const context = { subscriptions: [], extensionPath: path.resolve(__dirname, '../..') };
const t0 = performance.now();
const ext = which === 'reference' ? { activate: () => ({}) } : require(path.resolve(__dirname, '../../dist/extension.js'));
const tRequire = performance.now();
ext.activate(context);
const t1 = performance.now();
console.log(JSON.stringify({ kind: which, ms: t1 - t0, requireMs: tRequire - t0, activateMs: t1 - tRequire }));
process.exit(0);
