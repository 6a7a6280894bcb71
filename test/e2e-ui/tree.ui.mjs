// UI tests (scripts/ui-test.mjs) driving the real workbench with Playwright.
// Every exported async function is a test; ctx = { page, workspace, screenshot, runCommand, openTaxonView, log }.

const tree = (page) => page.locator('.part.sidebar [role="tree"]').first();
const row = (page, name) => tree(page).getByRole('treeitem', { name }).first();

export async function clickingANodeOpensItsDefinition({ page, openTaxonView, screenshot }) {
  await openTaxonView();
  const pets = row(page, /^pets \(train\.json\)/);
  await pets.waitFor({ timeout: 30000 });
  if ((await pets.getAttribute('aria-expanded')) !== 'true') await pets.locator('.monaco-tl-twistie').click();
  const animal = row(page, /^animal, 3 images/);
  await animal.waitFor({ timeout: 10000 });
  await animal.click(); // a Datumaro node opens its definition (focus moves to the editor)
  if ((await animal.getAttribute('aria-expanded')) !== 'true') await animal.locator('.monaco-tl-twistie').click();
  const cat = row(page, /^animal > cat, 2 images, leaf/);
  await cat.waitFor({ timeout: 10000 });
  await cat.click();
  // ...the annotation file opens with the cat label selected
  await page.locator('.tabs-container .tab', { hasText: 'train.json' }).first().waitFor({ timeout: 15000 });
  await page.waitForFunction(() => {
    const sel = document.querySelector('.monaco-editor .selected-text');
    return sel !== null;
  }, null, { timeout: 15000 });
  await screenshot('tree');
}

export async function refreshFromPalette({ page, runCommand }) {
  await runCommand('Taxon: Refresh Taxonomy');
  await row(page, /^pets \(train\.json\)/).waitFor({ timeout: 30000 });
}
