// The other pages in headless Chromium, in a browser set to Zurich time: Greeks draws its
// charts to scale with a time axis, hover values and a gap where the feed was down; Positions
// shows IBKR's cost per contract beside the price per unit; Status / Jobs enqueues a sync with
// its button; and every time on them is the browser's, with its zone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { APP, ARTIFACTS, launch } from "./chromium.mjs";

const ZONE = "Europe/Zurich";
/// The zone's short name, as the page's script writes it (CET or CEST, by the season).
const zoneName = new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, timeZoneName: "short" })
  .formatToParts(new Date()).find((p) => p.type === "timeZoneName").value;

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

function open() {
  return browser.newPage({ viewport: { width: 1400, height: 900 }, timezoneId: ZONE, locale: "en-GB" });
}

/// Every time on the page reads in the browser's zone, and the header names it once.
async function timesAreLocal(page) {
  assert.equal(await page.locator("header [data-zone]").textContent(), zoneName);
  const times = await page.locator("time").allTextContents();
  for (const t of times) assert.match(t, new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d (CET|CEST)$`), t);
  return times.length;
}

test("the greeks page draws each greek over the window, with a time axis, hover values and gaps", async () => {
  const page = await open();
  await page.goto(`${APP}/greeks`);
  const headings = await page.locator("h2").allTextContents();
  assert.deepEqual(headings.map((h) => h.split(" ")[0]), ["PORTFOLIO", "CL"]);
  const charts = page.locator("svg.chart");
  // PORTFOLIO: 4 dollar charts; CL: delta in barrels too.
  assert.equal(await charts.count(), 9);
  await timesAreLocal(page);

  const chart = charts.first();
  // The time axis: a label every 10 minutes of the hour, in Zurich time, and the zone once.
  const ticks = chart.locator(".time-axis text.tick");
  assert.ok(await ticks.count() >= 5, "labels along the hour");
  const tick = ticks.first();
  const expected = new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .format(new Date(await tick.getAttribute("data-t")));
  assert.equal(await tick.textContent(), expected);
  assert.match(expected, /^\d\d:[0-5]0$/);
  assert.equal(await chart.locator("[data-zone]").textContent(), zoneName);

  // Hover values: "14:05:05 CET — 1,234.5".
  const titles = await chart.locator(".hit title").allTextContents();
  assert.ok(titles.length > 20, "hover areas along the line");
  for (const t of titles) assert.match(t, /^\d\d:\d\d:\d\d (CET|CEST) — −?[\d,]+(\.\d+)?$/, t);

  // Half an hour of data in an hour's window covers the right half, and the five minutes the
  // feed was down break the line: two runs.
  for (let i = 0; i < 9; i++) {
    const d = await charts.nth(i).locator("path.line").getAttribute("d");
    assert.equal(d.match(/M/g).length, 2, `chart ${i}: ${d.slice(0, 80)}`);
    const x0 = Number(d.slice(1).split(",")[0]);
    assert.ok(x0 > 190 && x0 < 215, `the half hour starts mid-window: ${x0}`);
  }
  await chart.locator(".hit").last().hover();
  await page.screenshot({ path: `${ARTIFACTS}/greeks.png`, fullPage: true });

  // One account's series, chosen by its alias (the page never shows its code).
  await page.selectOption('select[name="account_id"]', { label: "Account Alias 1" });
  await page.click('form.filters button[type="submit"]');
  await page.waitForURL(/account_id=/);
  assert.equal(await page.locator("svg.chart").count(), 9);
  assert.equal((await page.content()).includes("DU1234567"), false);
  await page.close();
});

test("the positions page shows IBKR's cost per contract beside the price per unit", async () => {
  const page = await open();
  await page.goto(`${APP}/positions`);
  assert.ok(await page.locator("tbody tr").count() >= 10);
  const headers = await page.locator("thead th").allTextContents();
  for (const h of ["Avg cost ($/contract)", "Avg price ($/unit)", "Market price ($/unit)", "Unrealized PnL ($)"]) {
    assert.ok(headers.includes(h), `${h} in ${headers.join(" | ")}`);
  }
  assert.equal(headers.filter((h) => h.startsWith("Unrealized PnL")).length, 1, "PnL once");
  const losses = await page.locator("td.num.neg").allTextContents();
  assert.ok(losses.length > 0 && losses.every((t) => t.startsWith("−")), losses.join(", "));

  // A CL future: 1,000 barrels, so the cost per contract is a thousand times the price.
  const cl = page.locator("tbody tr", { has: page.locator("td", { hasText: /^FUT$/ }) })
    .filter({ has: page.locator("td", { hasText: /^bbl$/ }) }).first();
  const number = async (cls) => Number((await cl.locator(`td.${cls}`).textContent()).replace(/,/g, ""));
  const [cost, unit] = [await number("avg-cost"), await number("avg-price")];
  assert.match(await cl.locator("td.avg-price").textContent(), /^\d+\.\d\d$/, "CL ticks in cents");
  assert.ok(Math.abs(cost / 1000 - unit) < 0.006, `${cost} per contract is ${unit} per barrel`);
  const positions = await page.locator("tbody td:nth-child(5)").allTextContents();
  assert.ok(positions.every((q) => /^([+−]\d|0$)/.test(q)), `signed: ${positions.join(", ")}`);
  assert.ok(await timesAreLocal(page) >= 10);
  await page.screenshot({ path: `${ARTIFACTS}/positions.png`, fullPage: true });
  await page.close();
});

test("Sync now enqueues combo_positions.sync", async () => {
  const page = await open();
  await page.goto(`${APP}/status`);
  await page.locator("#sync-now").click();
  await page.waitForURL(/\/status\?enqueued=\d+/);
  assert.match(await page.locator(".notice").textContent(), /^Job \d+ enqueued: combo_positions\.sync$/);
  assert.ok(await page.locator("td", { hasText: "combo_positions.sync" }).count() >= 1);
  assert.ok(await timesAreLocal(page) >= 2, "the facts' and the jobs' times");
  await page.screenshot({ path: `${ARTIFACTS}/status.png`, fullPage: true });
  await page.close();
});
