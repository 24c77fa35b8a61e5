// The Risk page in headless Chromium: the portfolio's dollar greeks and their change over the
// day, each underlying with its delta in barrels, each account by alias, vega and theta by
// time to expiry, and the spreads nearest their last trade date with the nearest warned.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { APP, ARTIFACTS, launch } from "./chromium.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const number = /^−?[\d,]+\.\d{2}$/;

test("one screen of the book's risk", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${APP}/risk`);
  for (const figure of ["delta_dollars", "gamma_dollars", "vega", "theta"]) {
    const card = page.locator(`#portfolio [data-figure="${figure}"]`);
    assert.match((await card.locator(".value").textContent()).trim(), number, figure);
    assert.match(await card.textContent(), /today/);
  }
  const cl = page.locator("#underlyings tbody tr", { hasText: "CL" });
  assert.match(await cl.locator("td").nth(2).textContent(), /bbl$/);
  assert.equal(await page.locator("#buckets tbody tr").count(), 2);
  const account = page.locator("#accounts tbody tr").first();
  assert.equal((await account.locator("td").first().textContent()).trim(), "Account Alias 1");
  assert.equal((await page.content()).includes("DU1234567"), false, "no account code");

  // The front leg 3 business days from its last trade date comes first, warned.
  const first = page.locator("#expiring tbody tr").first();
  assert.match(await first.locator("td").first().textContent(), /^CL [A-Z][a-z]{2}\d{2}\/[A-Z][a-z]{2}\d{2}$/);
  assert.equal((await first.locator("td").nth(3).textContent()).trim(), "3");
  assert.equal(await first.locator(".expiry").evaluate((e) => e.classList.contains("soon")), true);
  await page.screenshot({ path: `${ARTIFACTS}/risk.png`, fullPage: true });

  // The spread's name leads to it on the Spreads page.
  await first.locator("a").click();
  await page.locator("details.spread").first().waitFor();
  assert.equal(await page.locator("details.spread").count() >= 1, true);
  await page.close();
});
