// Opens the local API's /docs in Debian's Chromium, as a person would: lists the operations,
// authorizes with a bearer token, then "Try it out" -> Execute on GET /policies/{policy_number}.
// Prints one JSON line: {operations, status, body}; writes a screenshot.
//   node tools/browser/try-docs.mjs <base-url> <token> <screenshot.png>
import { chromium } from 'playwright-core';

const [base, token, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // As root, on a closed network: no sandbox, nothing in the background reaching out.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  page.setDefaultTimeout(30000);
  await page.goto(`${base}/docs`);
  await page.waitForSelector('.opblock');
  const operations = await page.$$eval('.opblock-summary', (els) =>
    els.map((e) => `${e.querySelector('.opblock-summary-method')?.textContent} ${e.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`));

  await page.click('.auth-wrapper button.authorize');
  await page.fill('.modal-ux input[type=text], .modal-ux input:not([type])', token);
  await page.click('.modal-ux .auth-btn-wrapper button.authorize');
  await page.click('.modal-ux button.btn-done');

  const op = page.locator('.opblock-get').filter({ hasText: '/policies/' }).first();
  await op.locator('.opblock-summary').click();
  await op.locator('button.try-out__btn').click();
  await op.locator('tr[data-param-name="policy_number"] input').fill('POL-10001');
  await op.locator('tr[data-param-name="x-conversation-id"] input').fill('conv-browser');
  await op.locator('button.execute').click();
  const statusCell = op.locator('.live-responses-table .response .response-col_status').first();
  await statusCell.waitFor();
  const status = Number((await statusCell.textContent()).trim().split(/\s/)[0]);
  const body = await op.locator('.live-responses-table .response-col_description pre').first().textContent();
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ operations, status, body }));
} finally {
  await browser.close();
}
