// UI test: Run Inference on Folder… from the command palette shows a progress notification
// (count, rate, ETA) and then a summary. Notification toasts are hidden under the smoke-test
// driver, so the notification centre is read instead.

export async function runInferenceFromThePaletteShowsProgress({ page, runCommand, screenshot }) {
  await runCommand('Taxon: Run Inference on Folder…');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10000 });
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'workspace folder' }).first().waitFor({ timeout: 10000 });
  await input.fill('workspace');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'workspace folder' }).first().click();
  await runCommand('Notifications: Show Notifications');
  const progress = page.locator('.notifications-center .notification-list-item', { hasText: 'Taxon: embedding workspace' }).first();
  await progress.waitFor({ timeout: 30000 });
  await page
    .locator('.notifications-center .notification-list-item', { hasText: /\d+ \/ \d+ images/ })
    .first()
    .waitFor({ timeout: 60000 });
  await screenshot('inference-progress');
  await page
    .locator('.notifications-center .notification-list-item-message', { hasText: /inference on workspace finished/ })
    .first()
    .waitFor({ timeout: 180000 });
  await screenshot('inference-done');
}
