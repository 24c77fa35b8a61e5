// The other pages in headless Chromium: Greeks draws its charts, Positions lists the legs,
// Status / Jobs enqueues a sync with its button.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { APP, ARTIFACTS, launch } from "./chromium.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("the greeks page draws a chart per greek for the portfolio and each underlying", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${APP}/greeks`);
  const headings = await page.locator("h2").allTextContents();
  assert.deepEqual(headings.map((h) => h.split(" ")[0]), ["PORTFOLIO", "CL"]);
  assert.equal(await page.locator("svg.chart polyline").count(), 8);
  await page.screenshot({ path: `${ARTIFACTS}/greeks.png`, fullPage: true });
  await page.close();
});

test("the positions page lists the legs with negative PnL marked", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${APP}/positions`);
  assert.ok(await page.locator("tbody tr").count() >= 10);
  const losses = await page.locator("td.num.neg").allTextContents();
  assert.ok(losses.length > 0 && losses.every((t) => t.startsWith("−")), losses.join(", "));
  await page.screenshot({ path: `${ARTIFACTS}/positions.png`, fullPage: true });
  await page.close();
});

test("Sync now enqueues combo_positions.sync", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${APP}/status`);
  await page.locator("#sync-now").click();
  await page.waitForURL(/\/status\?enqueued=\d+/);
  assert.match(await page.locator(".notice").textContent(), /^Job \d+ enqueued: combo_positions\.sync$/);
  assert.ok(await page.locator("td", { hasText: "combo_positions.sync" }).count() >= 1);
  await page.screenshot({ path: `${ARTIFACTS}/status.png`, fullPage: true });
  await page.close();
});
