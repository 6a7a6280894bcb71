// @vscode/test-cli config. "VS Code" here is code-server driven by headless Chromium through
// scripts/code-shim.sh (see /work/shared/recipes/vscode-e2e.md). Tests: test/e2e/*.test.ts,
// compiled by scripts/e2e.mjs to out/test/e2e/*.test.js. Run everything with `npm run test:e2e`.
import { defineConfig } from '@vscode/test-cli';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  files: 'out/test/e2e/**/*.test.js',
  // a fresh copy of test/fixtures/workspace made by scripts/e2e.mjs (the tests edit files)
  workspaceFolder: './.vscode-test/workspace',
  useInstallation: { fromPath: fileURLToPath(new URL('./scripts/code-shim.sh', import.meta.url)) },
  mocha: { ui: 'tdd', timeout: 60000 },
  skipExtensionDependencies: true,
});
