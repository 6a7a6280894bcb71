// UI test of the node gallery: audit shop/, open the gallery of `animal` from the Taxonomy view's
// context menu, filter to the suspicious images, select the one the audit flags, move it to
// another path with the path picker (keyboard), see shop/labels.csv change on disk, undo it (u) and
// see the file restored. Screenshots: test-results/gallery-light.png and gallery-dark.png.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SUSPECT = 'photos/n01443537_0.JPEG';

const rowOf = (csv, image) => fs.readFileSync(csv, 'utf8').split('\n').find((l) => l.startsWith(`${image},`));

async function waitFor(what, check, timeout = 30000) {
  const t0 = Date.now();
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether the extension contributes a command (read from its manifest, as VS Code registers it). */
function contributes(command) {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return (manifest.contributes?.commands ?? []).some((c) => c.command === command);
}

/**
 * The suspicious filter reads `.taxon/audit.json`, written by "Taxon: Audit Labels". Where the
 * extension does not contribute that command, the findings are written by the same function the
 * audit uses (saveAuditFindings), with one suspect under `animal`, so the gallery reads a real file.
 */
async function auditShop({ page, workspace, runCommand }) {
  const shop = path.join(workspace, 'shop');
  const file = path.join(shop, '.taxon', 'audit.json');
  const started = Date.now();
  if (contributes('taxon.auditLabels')) {
    await runCommand('Taxon: Audit Labels');
    const pick = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'shop' }).first();
    if (await pick.waitFor({ timeout: 3000 }).then(() => true, () => false)) {
      await page.locator('.quick-input-widget input').fill('shop');
      await page.keyboard.press('Enter');
    }
    await waitFor(`${file} written by Taxon: Audit Labels`, () => fs.existsSync(file) && fs.statSync(file).mtimeMs >= started - 1000, 120000);
    return;
  }
  const { tsImport } = await import('tsx/esm/api');
  const { saveAuditFindings } = await tsImport(path.join(ROOT, 'src/core/learn/auditStore.ts'), import.meta.url);
  saveAuditFindings(path.join(shop, '.taxon'), {
    suspects: [{ image: SUSPECT, given: 'animal > goldfish', suggested: 'animal > tabby', level: 2, score: 0.91 }],
    duplicates: [{ a: 'photos/n02123045_0.JPEG', b: 'photos/n02123045_1.JPEG', similarity: 0.97, sameLabel: true }],
  });
}

const themeKind = (page) =>
  page.evaluate(() => {
    const c = document.querySelector('.monaco-workbench')?.classList;
    return c?.contains('hc-black') || c?.contains('hc-light') ? 'hc' : c?.contains('vs-dark') ? 'dark' : 'light';
  });

async function screenshotInBothThemes({ page, runCommand, screenshot }, gallery) {
  for (let i = 0; i < 2; i++) {
    const kind = await themeKind(page);
    await screenshot(`gallery-${kind}`);
    await runCommand('Preferences: Toggle between Light/Dark Themes');
    for (let k = 0; k < 30 && (await themeKind(page)) === kind; k++) await page.waitForTimeout(100);
    if ((await themeKind(page)) === kind) throw new Error('the colour theme did not change');
    await gallery.locator('.tile img').first().waitFor({ timeout: 10000 });
    await page.waitForTimeout(500);
  }
}

export async function relabelASuspiciousImageFromTheGallery(ctx) {
  try {
    await relabel(ctx);
  } finally {
    // the next tests find their webview by its frame: leave none of the gallery's behind
    await ctx.runCommand('View: Close All Editors').catch(() => {});
  }
}

async function relabel(ctx) {
  const { page, workspace, openTaxonView } = ctx;
  const csv = path.join(workspace, 'shop', 'labels.csv');
  const original = fs.readFileSync(csv, 'utf8');
  if (rowOf(csv, SUSPECT) !== `${SUSPECT},animal > goldfish`) throw new Error(`${csv}: the fixture should label ${SUSPECT} animal > goldfish`);
  await auditShop(ctx);

  // open the gallery of shop's `animal` from the node's context menu
  await openTaxonView();
  const tree = page.locator('.part.sidebar [role="tree"]').first();
  const animal = tree.getByRole('treeitem', { name: /^animal, 4 images, category/ }).first();
  await animal.waitFor({ timeout: 30000 });
  await animal.click({ button: 'right' });
  await page.locator('.monaco-menu .action-label', { hasText: 'Show Images' }).first().click();
  const gallery = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  const app = gallery.locator('#app');
  await gallery.locator('#app[data-total="4"]').waitFor({ timeout: 60000 });
  const title = (await gallery.locator('h1.title').textContent())?.trim();
  if (title !== 'animal') throw new Error(`the gallery is titled ${JSON.stringify(title)}, not the node "animal"`);
  await gallery.locator('.tile img').nth(3).waitFor({ timeout: 30000 });
  if ((await gallery.locator('.tile').count()) !== 4) throw new Error('the gallery of animal should show its 4 images');

  // the suspicious filter shows only what the audit flagged
  await gallery.locator('vscode-button[data-filter="suspicious"]').click();
  await gallery.locator('#app[data-filter="suspicious"]').waitFor({ timeout: 15000 });
  const suspicious = Number(await app.getAttribute('data-total'));
  if (!(suspicious >= 1)) throw new Error(`the suspicious filter shows ${suspicious} images under animal; the audit flagged at least one`);
  const tile = gallery.locator('.tile').first();
  await tile.locator('img').waitFor({ timeout: 15000 });
  const label = await tile.getAttribute('aria-label');
  const image = label.split(',')[0];
  if (!/suspicious/.test(label)) throw new Error(`the tile does not say it is suspicious: ${label}`);

  // select it, then move it with the keyboard: m, type, Enter
  await tile.click();
  if ((await tile.getAttribute('aria-selected')) !== 'true') throw new Error('clicking a tile should select it');
  const before = rowOf(csv, image);
  const target = before.endsWith('animal > tabby') ? 'goldfish' : 'tabby';
  await page.keyboard.press('m');
  await gallery.locator('dialog.move[open]').waitFor({ timeout: 10000 });
  await page.keyboard.type(target);
  await gallery.locator('dialog.move li.result.active', { hasText: target }).waitFor({ timeout: 10000 });
  await page.keyboard.press('Enter');
  const after = await waitFor(`${csv} to label ${image} animal > ${target}`, () => rowOf(csv, image) === `${image},animal > ${target}` && rowOf(csv, image));
  await gallery.locator('.notice', { hasText: `Moved 1 image to animal > ${target}` }).waitFor({ timeout: 15000 });
  const unchangedRows = original.split('\n').filter((l) => !l.startsWith(`${image},`));
  const nowRows = fs.readFileSync(csv, 'utf8').split('\n').filter((l) => !l.startsWith(`${image},`));
  if (JSON.stringify(unchangedRows) !== JSON.stringify(nowRows)) throw new Error(`${csv}: rows other than ${image} changed`);
  const journal = fs.readFileSync(path.join(workspace, 'shop', '.taxon', 'journal.jsonl'), 'utf8');
  if (!journal.includes(JSON.stringify(image))) throw new Error('the move is not in the label journal');

  // the whole node, with the moved image's new label, for the screenshots
  await gallery.locator('vscode-button[data-filter="all"]').click();
  await gallery.locator('#app[data-filter="all"]').waitFor({ timeout: 15000 });
  await gallery.locator('.tile img').nth(3).waitFor({ timeout: 15000 });
  await gallery.locator('.tile', { hasText: target }).first().waitFor({ timeout: 15000 });
  const errors = await gallery.locator('.notice.error .text').allTextContents();
  if (errors.length) throw new Error(`the gallery shows an error: ${errors.join('; ')}`);
  await screenshotInBothThemes(ctx, gallery);

  // undo puts the label back
  await gallery.locator('.viewport').focus();
  await page.keyboard.press('u');
  await waitFor(`${csv} to have ${before} again after undo (was ${after})`, () => rowOf(csv, image) === before);
  if (fs.readFileSync(csv, 'utf8') !== original) throw new Error(`${csv} is not back to what it was after undo`);
  await page.keyboard.press('Escape');
}
