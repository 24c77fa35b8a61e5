// Run after the test harness logged the simulator's Client Portal session out and saw the
// bridge's session keeper report it: the Spreads page shows the re-auth banner with what to do.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { APP, ARTIFACTS, launch } from "./chromium.mjs";

let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("a logged-out Client Portal session shows the re-auth banner", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${APP}/`);
  const banner = page.locator(".banner.reauth");
  assert.equal(await banner.count(), 1, "the re-auth banner");
  assert.match(await banner.textContent(), /^Re-auth required: log in to the Client Portal Gateway at https?:\/\//);
  await page.screenshot({ path: `${ARTIFACTS}/spreads-reauth.png`, fullPage: true });
  await page.close();
});
