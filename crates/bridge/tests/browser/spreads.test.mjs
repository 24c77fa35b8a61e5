// The Spreads page of the default scenario in real headless Chromium: a native CL combo
// expands to its legs, unmatched legs are listed, a refresh keeps the row open, and the page
// works without JavaScript. (The re-auth banner is reauth.test.mjs's.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { APP, ARTIFACTS, launch } from "./chromium.mjs";

let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("a native combo expands to its legs, and unmatched legs follow", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${APP}/`);
  const combo = page.locator("details.spread").first();
  await combo.locator(".badge", { hasText: "Native Combo" }).waitFor();
  assert.match((await combo.locator(".legs-text").textContent()).trim(), /^-1 CL\w+ \/ \+1 CL\w+$/);
  assert.equal(await combo.locator("tr.leg").first().isVisible(), false, "closed at first");
  await combo.locator("summary").click();
  const legs = await combo.locator("tr.leg td:first-child").allTextContents();
  assert.equal(legs.length, 2);
  for (const leg of legs) assert.match(leg, /^CL\w+$/);

  const unmatched = page.locator("details.unmatched");
  assert.ok(await unmatched.count() > 0, "an Unmatched Legs row");
  await unmatched.first().locator(".badge", { hasText: "Unmatched Legs" }).waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/spreads.png`, fullPage: true });

  // Named as a trader names it, its IBKR name one click away; the front leg's expiry warned.
  assert.match((await combo.locator(".trader-label").textContent()).trim(), /^CL [A-Z][a-z]{2}\d{2}\/[A-Z][a-z]{2}\d{2}$/);
  assert.match(await combo.locator(".ibkr").textContent(), /IBKR: CP\.CP[0-9a-f]{8}/);
  const expiry = combo.locator(".expiry");
  assert.equal(await expiry.evaluate((e) => e.classList.contains("soon")), true, "within 5 business days");
  assert.match(await expiry.textContent(), /3 business days left/);
  assert.match(await combo.locator(".spread-price").textContent(), /^-?\d+\.\d{2,4}$/);

  // The page's refresh swaps in fresh data and keeps the opened row open.
  const key = await combo.getAttribute("data-key");
  await page.evaluate(() => { document.querySelector("main").dataset.before = "refresh"; });
  await page.evaluate(() => window.portfolioBridgeRefresh());
  assert.equal(await page.locator("main[data-before]").count(), 0, "the page's content was replaced");
  assert.equal(await page.locator(`details[data-key="${key}"]`).getAttribute("open"), "");
  await page.close();
});

test("spreads are found by their trader's name", async () => {
  const page = await browser.newPage();
  await page.goto(`${APP}/`);
  const label = (await page.locator("details.spread .trader-label").first().textContent()).trim();
  const months = label.split(" ")[1];
  await page.fill('input[name="search"]', months.toLowerCase());
  await page.click('form.filters button[type="submit"]');
  await page.locator("details.spread").first().waitFor();
  for (const l of await page.locator("details.spread .trader-label").allTextContents()) {
    assert.ok(l.includes(months), `${l} matches ${months}`);
  }
  await page.fill('input[name="search"]', "no such spread");
  await page.click('form.filters button[type="submit"]');
  await page.getByText("No native combos for this filter.").waitFor();
  await page.close();
});

test("without JavaScript the rows still expand", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${APP}/`);
  const combo = page.locator("details.spread").first();
  await combo.locator("summary").click();
  assert.equal(await combo.locator("tr.leg").count(), 2);
  assert.match(await combo.locator("time").first().textContent(), /UTC$/);
  await context.close();
});
