// UI test of the node gallery. A curator's mistake is planted in shop/labels.csv (a goldfish
// photo labelled food > espresso); the labels are audited; the gallery of `food` opens from the
// node's inline action in the Taxonomy view; the suspicious filter shows the flagged photo; it is
// selected and moved to the audit's suggestion with the path picker (keyboard); shop/labels.csv
// changes on disk; `u` undoes it. Screenshots: test-results/gallery-suspicious-light.png (before
// the move), gallery-light.png and gallery-dark.png (after). The file is put back at the end.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A goldfish photo, unlabelled in the fixture, and the wrong label it gets. */
const PLANTED = 'photos/n01443537_10.JPEG';
const PLANTED_AS = 'food > espresso';

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
 * The suspicious filter reads `.taxon/audit.json`, written by "Taxon: Audit Labels", which is run
 * from the palette. Where the extension does not contribute that command, the findings are written
 * by the function the audit writes them with (saveAuditFindings): the planted photo as the suspect,
 * so the gallery reads a real file of the audit's format.
 */
async function auditShop({ page, workspace, runCommand }) {
  const shop = path.join(workspace, 'shop');
  const file = path.join(shop, '.taxon', 'audit.json');
  const started = Date.now();
  if (contributes('taxon.auditLabels')) {
    await runCommand('Taxon: Audit Labels');
    const pick = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'shop' }).first();
    if (await pick.waitFor({ timeout: 5000 }).then(() => true, () => false)) {
      await page.locator('.quick-input-widget input').fill('shop');
      await page.keyboard.press('Enter');
    }
    try {
      await waitFor(`${file} written by Taxon: Audit Labels`, () => fs.existsSync(file) && fs.statSync(file).mtimeMs >= started - 1000, 120000);
    } catch (err) {
      await runCommand('Notifications: Show Notifications').catch(() => {});
      const notes = await page.locator('.notifications-center .notification-list-item-message').allInnerTexts().catch(() => []);
      throw new Error(`${err.message}; notifications: ${JSON.stringify(notes)}`);
    }
    return;
  }
  const { tsImport } = await import('tsx/esm/api');
  const { saveAuditFindings } = await tsImport(path.join(ROOT, 'src/core/learn/auditStore.ts'), import.meta.url);
  saveAuditFindings(path.join(shop, '.taxon'), {
    suspects: [{ image: PLANTED, given: PLANTED_AS, suggested: 'animal > goldfish', level: 1, score: 0.97 }],
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
  if (rowOf(csv, PLANTED) !== `${PLANTED},`) throw new Error(`${csv}: the fixture should leave ${PLANTED} unlabelled`);
  try {
    // the mistake to find: a goldfish among the food
    fs.writeFileSync(csv, original.replace(`${PLANTED},\n`, `${PLANTED},${PLANTED_AS}\n`));
    const planted = fs.readFileSync(csv, 'utf8');
    // the datasets are loaded (the audit asks which one) once the tree shows shop's food, the planted photo included
    await openTaxonView();
    const tree = page.locator('.part.sidebar [role="tree"]').first();
    const food = tree.getByRole('treeitem', { name: /^food, 5 images, category/ }).first();
    await food.waitFor({ timeout: 30000 });
    await auditShop(ctx);
    await moveTheSuspect(ctx, csv, planted, food);
  } finally {
    fs.writeFileSync(csv, original);
  }
}

/**
 * Clicks a node's inline "Show Images". A tree row re-rendered under the pointer (the tree
 * refreshes when an annotation file changes) hands the command no node, and it asks for one with
 * a quick pick: then the click is made again on the row as it is now.
 */
async function openFromTheTree(page, row) {
  const picker = page.locator('.quick-input-widget', { hasText: 'Taxon: Show Images' });
  for (let attempt = 1; ; attempt++) {
    await row.hover();
    await row.locator('.actions .action-label[aria-label="Show Images"]').click();
    const opened = await Promise.race([
      page.locator('iframe.webview.ready').first().waitFor({ timeout: 15000 }).then(() => true),
      picker.waitFor({ timeout: 15000 }).then(() => false),
    ]);
    if (opened) return;
    if (attempt === 3) throw new Error('Show Images on the node asked for a node three times instead of opening its gallery');
    await page.keyboard.press('Escape');
    await page.waitForTimeout(1000);
  }
}

async function moveTheSuspect(ctx, csv, planted, food) {
  const { page, workspace } = ctx;
  // open the gallery of shop's `food` with the node's inline "Show Images" action
  await openFromTheTree(page, food);
  const gallery = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  const app = gallery.locator('#app');
  await gallery.locator('#app[data-total]').waitFor({ timeout: 60000 });
  const title = (await gallery.locator('h1.title').textContent())?.trim();
  if (title !== 'food') throw new Error(`the gallery is titled ${JSON.stringify(title)}, not the node "food"`);
  const total = await app.getAttribute('data-total');
  if (total !== '5') throw new Error(`the gallery of food lists ${total} images, not 5 (the four food photos and the planted one)`);
  await gallery.locator('.tile img').nth(4).waitFor({ timeout: 30000 });
  if ((await gallery.locator('.tile').count()) !== 5) throw new Error('the gallery of food should show its 5 images');

  // the suspicious filter shows what the audit flagged: the planted photo among them
  await gallery.locator('vscode-button[data-filter="suspicious"]').click();
  await gallery.locator('#app[data-filter="suspicious"]').waitFor({ timeout: 15000 });
  const suspicious = Number(await app.getAttribute('data-total'));
  if (!(suspicious >= 1)) throw new Error(`the suspicious filter shows ${suspicious} images under food; the audit should flag ${PLANTED} (a goldfish labelled ${PLANTED_AS})`);
  const tile = gallery.locator('.tile', { hasText: path.posix.basename(PLANTED) }).first();
  await tile.waitFor({ timeout: 15000 }).catch(() => {
    throw new Error(`the audit flagged ${suspicious} images under food, not the planted ${PLANTED}`);
  });
  await tile.locator('img').waitFor({ timeout: 15000 });
  const label = await tile.getAttribute('aria-label');
  const suggested = /suspicious: the audit suggests (.+?)(?:, |$)/.exec(label)?.[1];
  if (!suggested) throw new Error(`the tile does not say what the audit suggests: ${label}`);
  if (!suggested.startsWith('animal')) throw new Error(`the audit suggests ${suggested} for a goldfish photo`);

  // select it, then move it with the keyboard to the suggestion: m, type its name, Enter
  await tile.click();
  if ((await tile.getAttribute('aria-selected')) !== 'true') throw new Error('clicking a tile should select it');
  await ctx.screenshot('gallery-suspicious-light');
  const leaf = suggested.split(' > ').at(-1);
  await page.keyboard.press('m');
  await gallery.locator('dialog.move[open]').waitFor({ timeout: 10000 });
  await page.keyboard.type(leaf);
  await gallery.locator('dialog.move li.result.active', { hasText: suggested.split(' > ').join(' › ') }).waitFor({ timeout: 10000 });
  await page.keyboard.press('Enter');
  await waitFor(`${csv} to label ${PLANTED} ${suggested}`, () => rowOf(csv, PLANTED) === `${PLANTED},${suggested}`);
  await gallery.locator('.notice', { hasText: `Moved 1 image to ${suggested}` }).waitFor({ timeout: 15000 });
  const others = (text) => text.split('\n').filter((l) => !l.startsWith(`${PLANTED},`));
  if (JSON.stringify(others(planted)) !== JSON.stringify(others(fs.readFileSync(csv, 'utf8')))) throw new Error(`${csv}: rows other than ${PLANTED} changed`);
  const journal = fs.readFileSync(path.join(workspace, 'shop', '.taxon', 'journal.jsonl'), 'utf8');
  if (!journal.includes(JSON.stringify(PLANTED))) throw new Error('the move is not in the label journal');

  // moved out of food, the photo leaves its gallery: the four food photos remain
  await gallery.locator('vscode-button[data-filter="all"]').click();
  await gallery.locator('#app[data-filter="all"][data-total="4"]').waitFor({ timeout: 15000 });
  await gallery.locator('.tile img').nth(3).waitFor({ timeout: 15000 });
  const errors = await gallery.locator('.notice.error .text').allTextContents();
  if (errors.length) throw new Error(`the gallery shows an error: ${errors.join('; ')}`);
  await screenshotInBothThemes(ctx, gallery);

  // undo puts the planted label back (and the photo back among the food)
  await gallery.locator('.viewport').focus();
  await page.keyboard.press('u');
  await waitFor(`${csv} to be as planted again after undo`, () => fs.readFileSync(csv, 'utf8') === planted);
  await gallery.locator('#app[data-total="5"]').waitFor({ timeout: 15000 });
}
