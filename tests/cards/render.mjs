// Renders each Teams Adaptive Card the alert-notifier makes with Microsoft's own Adaptive Cards
// JavaScript renderer (npm `adaptivecards`) in headless Chromium (Debian's), and fails on any
// parse or validation event the renderer reports, any console warning or error, or a card that
// renders nothing. Writes one PNG per card.
//
//   node tests/cards/render.mjs <dir of card JSON files> <dir for the PNGs>
//
// `make cards` runs it on the cards of every alert kind (cargo run --example cards).

import { readdirSync, readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, basename } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const [cardsDir, outDir] = process.argv.slice(2);
if (!cardsDir || !outDir) {
  console.error("usage: node render.mjs <cards dir> <png dir>");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const rendererJs = require.resolve("adaptivecards/dist/adaptivecards.min.js");
const markdownJs = require.resolve("markdown-it/dist/markdown-it.min.js");

// Teams' look (fonts, container styles and colours, stacked buttons): a host config is how a
// host such as Teams tells the renderer its styling. Shared with the demo's report.
const hostConfig = JSON.parse(readFileSync(new URL("./host-config.json", import.meta.url), "utf8"));

const files = readdirSync(cardsDir).filter((f) => f.endsWith(".json")).sort();
if (files.length === 0) {
  console.error(`no cards in ${cardsDir}`);
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const failures = [];
try {
  const page = await browser.newPage({ viewport: { width: 560, height: 400 }, deviceScaleFactor: 1 });
  const console_ = [];
  page.on("console", (m) => {
    if (m.type() === "warning" || m.type() === "error") console_.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => console_.push(`page error: ${e.message}`));
  for (const file of files) {
    console_.length = 0;
    const envelope = JSON.parse(readFileSync(join(cardsDir, file), "utf8"));
    const card = envelope.attachments?.[0]?.content ?? envelope;
    await page.setContent(
      `<!doctype html><html><head><meta charset="utf-8"><style>
         body { margin: 0; padding: 16px; background: #F5F5F5; font-family: 'DejaVu Sans', sans-serif; }
         #card { width: 520px; background: #fff; border: 1px solid #E0E0E0; border-radius: 6px; overflow: hidden; }
         .ac-textBlock p { margin: 0; }
         .ac-textBlock ul { margin: 0; padding-left: 1.3em; white-space: normal; }
         .ac-pushButton { border: 1px solid #D1D1D1; border-radius: 4px; background: #fff; padding: 6px 12px; font: 600 13px 'DejaVu Sans', sans-serif; color: #242424; }
       </style></head><body><div id="card"></div></body></html>`,
    );
    await page.addScriptTag({ path: markdownJs });
    await page.addScriptTag({ path: rendererJs });
    const result = await page.evaluate(
      ({ card, hostConfig }) => {
        const AC = window.AdaptiveCards;
        const md = window.markdownit();
        AC.AdaptiveCard.onProcessMarkdown = (text, out) => {
          out.outputHtml = md.render(text);
          out.didProcess = true;
        };
        const events = [];
        const ac = new AC.AdaptiveCard();
        ac.hostConfig = new AC.HostConfig(hostConfig);
        const context = new AC.SerializationContext();
        ac.parse(card, context);
        for (let i = 0; i < context.eventCount; i++) {
          const e = context.getEventAt(i);
          events.push(`parse: ${AC.ValidationEvent[e.event]}: ${e.message}`);
        }
        for (const e of ac.validateProperties().validationEvents) {
          events.push(`validation: ${AC.ValidationEvent[e.event]}: ${e.message}`);
        }
        const el = ac.render();
        if (!el) return { events, rendered: 0 };
        document.getElementById("card").appendChild(el);
        return { events, rendered: el.querySelectorAll(".ac-textBlock, .ac-factset, .ac-pushButton").length };
      },
      { card, hostConfig },
    );
    const problems = [...result.events, ...console_];
    if (result.rendered === 0) problems.push("the card rendered nothing");
    const png = join(outDir, basename(file, ".json") + ".png");
    await page.locator("#card").screenshot({ path: png });
    if (problems.length) {
      failures.push(`${file}:\n    ${problems.join("\n    ")}`);
    } else {
      console.log(`ok  ${file} (${result.rendered} elements) -> ${png}`);
    }
  }
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(`renderer problems in ${failures.length} of ${files.length} cards:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log(`${files.length} passed, 0 failed`);
