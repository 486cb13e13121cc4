// The demo report's page script (embedded in target/demo/report.html by `make demo`): draws the
// tables and each chat post as its platform shows it — Teams posts by Microsoft's Adaptive
// Cards renderer (the same renderer and host config as `make cards`), Google Chat cardsV2 and
// Slack Block Kit by the small drawers below (their header, text, fields, buttons and footer).
// All alert text goes in as text, never as HTML. `window.lakeopsReport` tells the headless
// check (check-report.mjs) what rendered and what went wrong.
(function () {
  "use strict";
  const state = { done: false, posts: 0, rendered: 0, problems: [] };
  window.lakeopsReport = state;
  const data = JSON.parse(document.getElementById("data").textContent);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function row(table, cells) {
    const tr = el("tr");
    for (const [text, cls] of cells) tr.appendChild(el("td", cls, text));
    document.getElementById(table).appendChild(tr);
  }
  // Slack mrkdwn and Google Chat's HTML subset, as plain text: line breaks kept, bold marks and
  // tags dropped, the entities both escape `<`, `>` and `&` with shown as the characters.
  const ENTITIES = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#39;": "'" };
  function plain(text) {
    return String(text || "")
      .replace(/<br\s*\/?>/gi, "\n")
      .replace(/<[^>]*>/g, "")
      .replace(/\*([^*\n]+)\*/g, "$1")
      .replace(/&(lt|gt|amp|quot|#39);/g, (e) => ENTITIES[e]);
  }
  function button(label) {
    return el("span", "button", label);
  }

  function teams(body, into) {
    const card = body.attachments && body.attachments[0] && body.attachments[0].content;
    if (!card || !window.AdaptiveCards) {
      state.problems.push("a Teams post without a card, or the Adaptive Cards renderer missing");
      return false;
    }
    const AC = window.AdaptiveCards;
    const md = window.markdownit ? window.markdownit() : null;
    AC.AdaptiveCard.onProcessMarkdown = (text, out) => {
      if (md) {
        // Teams shows a mention (`<at>Name</at>` with its msteams.entities entry) as a
        // highlighted @Name; the generic renderer knows no mentions.
        out.outputHtml = md.render(text.replace(/<at>(.*?)<\/at>/g, "**@$1**"));
        out.didProcess = true;
      }
    };
    const ac = new AC.AdaptiveCard();
    ac.hostConfig = new AC.HostConfig(data.hostConfig);
    const context = new AC.SerializationContext();
    ac.parse(card, context);
    for (let i = 0; i < context.eventCount; i++) {
      state.problems.push("Adaptive Card parse: " + context.getEventAt(i).message);
    }
    const rendered = ac.render();
    if (!rendered) return false;
    into.appendChild(rendered);
    return true;
  }

  function googleChat(body, into) {
    const card = body.cardsV2 && body.cardsV2[0] && body.cardsV2[0].card;
    if (!card) return false;
    const box = el("div", "gchat");
    if (card.header) {
      box.appendChild(el("div", "title", card.header.title));
      box.appendChild(el("div", "subtitle", card.header.subtitle));
    }
    for (const section of card.sections || []) {
      const s = el("div", "section");
      if (section.header) s.appendChild(el("div", "label", section.header));
      for (const w of section.widgets || []) {
        if (w.textParagraph) s.appendChild(el("div", "", plain(w.textParagraph.text)));
        if (w.decoratedText) {
          s.appendChild(el("div", "label", w.decoratedText.topLabel));
          s.appendChild(el("div", "", plain(w.decoratedText.text)));
        }
        for (const b of (w.buttonList && w.buttonList.buttons) || []) s.appendChild(button(b.text));
      }
      box.appendChild(s);
    }
    into.appendChild(box);
    return box.textContent.length > 0;
  }

  function slack(body, into) {
    if (!Array.isArray(body.blocks)) return false;
    const box = el("div", "slack");
    for (const b of body.blocks) {
      if (b.type === "header") box.appendChild(el("div", "header", b.text && b.text.text));
      if (b.type === "section" && b.text) box.appendChild(el("div", "", plain(b.text.text)));
      if (b.type === "section" && b.fields) {
        const grid = el("div", "fields");
        for (const f of b.fields) grid.appendChild(el("div", "", plain(f.text)));
        box.appendChild(grid);
      }
      if (b.type === "actions") for (const e of b.elements || []) box.appendChild(button(e.text && e.text.text));
      if (b.type === "context") box.appendChild(el("div", "context", (b.elements || []).map((e) => plain(e.text)).join(" ")));
    }
    into.appendChild(box);
    return box.textContent.length > 0;
  }

  document.getElementById("setup").appendChild(el("div", "", data.setup.join(" · ")));
  for (const r of data.runs) row("runs", [[r.function], [r.event], [r.saw], [r.did, r.ok ? "" : "sev-critical"]]);
  for (const a of data.alerts) {
    const at = a.attributes || {};
    const who = at.run_by && at.run_by !== "unknown" ? at.run_by : "";
    const subject = a.subject.replace(/^\[lakeops\] [A-Z]+: /, "");
    row("alerts", [[(at.severity || "").toUpperCase(), "sev-" + at.severity], [at.kind], [subject], [who]]);
  }
  const drawers = { teams, google_chat: googleChat, slack };
  for (const p of data.posts) {
    state.posts++;
    const post = el("div", "post");
    post.appendChild(el("div", "where", `#${p.channel} (${p.platform}) · HTTP ${p.status} · ${p.alert_id || ""}`));
    const card = el("div", "card");
    post.appendChild(card);
    document.getElementById("posts").appendChild(post);
    const draw = drawers[p.platform];
    let ok = false;
    try {
      ok = draw ? draw(p.body, card) : false;
    } catch (e) {
      state.problems.push(`${p.channel}: ${e.message}`);
    }
    if (ok) {
      state.rendered++;
    } else {
      state.problems.push(`${p.channel} (${p.platform}): the post rendered nothing; shown raw`);
      card.appendChild(el("pre", "raw", JSON.stringify(p.body, null, 2)));
    }
  }
  state.done = true;
})();
