// UI test (scripts/ui-test.mjs): open the Taxon view, click the first tree item, screenshot.
// Every exported async function is a test; ctx = { page, workspace, screenshot, runCommand, openTaxonView, log }.

export async function clickFirstTreeItem({ page, openTaxonView, screenshot }) {
  await openTaxonView();
  const item = page.locator('.part.sidebar [role="treeitem"]').first();
  await item.waitFor({ timeout: 30000 });
  await item.click();
  await page.waitForFunction(
    () => document.querySelector('.part.sidebar [role="treeitem"][aria-selected="true"]'),
    null,
    { timeout: 10000 },
  );
  await screenshot('tree');
}

export async function refreshFromPalette({ page, runCommand }) {
  await runCommand('Taxon: Refresh Taxonomy');
  await page.locator('.part.sidebar [role="treeitem"]').first().waitFor({ timeout: 30000 });
}
