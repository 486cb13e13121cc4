// Opens the demo's report (target/demo/report.html, written by `make demo`) in headless Chromium
// (Debian's) and fails unless it renders: every chat post drawn as its card, every function's
// row and every alert's row present, no renderer problem, no console error or page error.
// Writes a full-page screenshot.
//
//   node tests/cards/check-report.mjs <report.html> <screenshot.png> [height in px: the top only]
//
// `make test` runs it after `make demo`; `make demo-screenshot` refreshes docs/demo-report.png.

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [page_, png, height] = process.argv.slice(2);
if (!page_ || !png) {
  console.error("usage: node check-report.mjs <report.html> <screenshot.png>");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1240, height: 900 }, deviceScaleFactor: 1 });
  page.on("console", (m) => {
    if (m.type() === "warning" || m.type() === "error") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await page.goto(pathToFileURL(resolve(page_)).href);
  await page.waitForFunction(() => window.lakeopsReport && window.lakeopsReport.done, null, { timeout: 15000 });
  const r = await page.evaluate(() => ({
    ...window.lakeopsReport,
    runs: document.querySelectorAll("#runs tr").length - 1,
    alerts: document.querySelectorAll("#alerts tr").length - 1,
    adaptive: document.querySelectorAll("#posts .ac-adaptiveCard").length,
  }));
  problems.push(...r.problems);
  if (r.runs < 1) problems.push("no function rows");
  if (r.alerts < 1) problems.push("no alert rows");
  if (r.posts < 1) problems.push("no chat posts");
  if (r.rendered !== r.posts) problems.push(`${r.rendered} of ${r.posts} posts rendered`);
  const clip = height ? { x: 0, y: 0, width: 1240, height: Number(height) } : undefined;
  await page.screenshot({ path: png, fullPage: true, clip });
  console.log(`report: ${r.runs} function runs, ${r.alerts} alerts, ${r.rendered}/${r.posts} posts rendered (${r.adaptive} Adaptive Cards) -> ${png}`);
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(`the report did not render cleanly:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
