// Safe rendering of Slack mrkdwn into DOM nodes. Never uses innerHTML: every piece of text
// becomes a text node. Entities (&lt; &gt; &amp;) are turned back into characters only when
// a text node is made, so an escaped "&lt;@U123&gt;" from an untrusted string stays plain text,
// while "<@U123>" and "<https://x|label>" written literally by the bot become a mention / link.
"use strict";

const SandboxMrkdwn = (() => {
  const EMOJI = {
    white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", rocket: "🚀",
    hourglass: "⌛", hourglass_flowing_sand: "⏳", lock: "🔒", unlock: "🔓",
    large_green_circle: "🟢", red_circle: "🔴", large_purple_circle: "🟣",
    large_blue_circle: "🔵", large_yellow_circle: "🟡", white_circle: "⚪", black_circle: "⚫",
    double_vertical_bar: "⏸️", pause_button: "⏸️", no_entry: "⛔", no_entry_sign: "🚫",
    octagonal_sign: "🛑", eyes: "👀", tada: "🎉", memo: "📝", link: "🔗", gear: "⚙️",
    package: "📦", mag: "🔍", fire: "🔥", construction: "🚧", stopwatch: "⏱️",
    information_source: "ℹ️", arrow_right: "➡️", heavy_plus_sign: "➕",
    heavy_minus_sign: "➖", skull: "💀", thumbsup: "👍", "+1": "👍", thumbsdown: "👎",
    clipboard: "📋", bust_in_silhouette: "👤", busts_in_silhouette: "👥", key: "🔑",
    arrows_counterclockwise: "🔄", repeat: "🔁", bell: "🔔", calendar: "📅", zap: "⚡",
    leftwards_arrow_with_hook: "↩️", grey_question: "❔", question: "❓", ok: "🆗",
  };
  const SAFE_SCHEMES = /^(https?:|mailto:)/i;

  function unescapeEntities(s) {
    return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function emojify(s) {
    return s.replace(/:([a-z0-9_+\-]+):/g, (m, name) => EMOJI[name] || m);
  }

  // Text (already unescaped) with newlines as <br>.
  function appendText(parent, s) {
    const lines = s.split("\n");
    lines.forEach((line, i) => {
      if (i > 0) parent.appendChild(document.createElement("br"));
      if (line) parent.appendChild(document.createTextNode(line));
    });
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // What a user mention shows, as in Slack: "@" and the user's display name (their real name
  // when the display name is empty), whatever label the bot wrote. A user the workspace does
  // not know keeps the bot's label, or its id.
  function userLabel(id, users, label) {
    const user = users && users[id];
    if (user) return "@" + (user.display_name || user.real_name || user.name || id);
    return "@" + (label || id);
  }

  // One <...> token the bot wrote literally.
  function token(inner, ctx) {
    const [target, ...rest] = inner.split("|");
    const label = rest.length ? unescapeEntities(rest.join("|")) : null;
    if (target.startsWith("@")) {
      const id = target.slice(1);
      const node = el("span", "mention", userLabel(id, ctx.users, label));
      node.dataset.userId = id;
      return node;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const channel = ctx.channels && ctx.channels[id];
      return el("span", "mention channel", "#" + (channel ? channel.name : label || id));
    }
    if (target.startsWith("!")) {
      const what = target.slice(1);
      if (what.startsWith("date^")) return el("span", "date", label || what);
      if (what.startsWith("subteam^")) return el("span", "mention", label || "@group");
      return el("span", "mention broadcast", "@" + what);
    }
    const href = unescapeEntities(target);
    if (SAFE_SCHEMES.test(href)) {
      const a = el("a", "link", label || href);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      return a;
    }
    // Not a link Slack would make: show what was written.
    return document.createTextNode(label || unescapeEntities(target));
  }

  const PATTERNS = [
    { kind: "code", re: /`([^`\n]+)`/ },
    { kind: "token", re: /<([^<>\n]+)>/ },
    { kind: "b", re: /(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])/ },
    { kind: "i", re: /(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])/ },
    { kind: "s", re: /(?<![\w~])~(?!\s)([^~\n]+?)~(?![\w~])/ },
  ];

  function inline(parent, s, ctx) {
    while (s.length) {
      let best = null;
      for (const p of PATTERNS) {
        const m = p.re.exec(s);
        if (m && (best === null || m.index < best.m.index)) best = { kind: p.kind, m };
      }
      if (best === null) {
        appendText(parent, emojify(unescapeEntities(s)));
        return;
      }
      const { kind, m } = best;
      if (m.index > 0) appendText(parent, emojify(unescapeEntities(s.slice(0, m.index))));
      if (kind === "code") {
        parent.appendChild(el("code", null, unescapeEntities(m[1])));
      } else if (kind === "token") {
        parent.appendChild(token(m[1], ctx));
      } else {
        const node = el(kind);
        inline(node, m[1], ctx);
        parent.appendChild(node);
      }
      s = s.slice(m.index + m[0].length);
    }
  }

  // Render mrkdwn into a new element (a <div class="mrkdwn">).
  function render(text, ctx) {
    const root = el("div", "mrkdwn");
    const parts = String(text || "").split("```");
    parts.forEach((part, i) => {
      if (i % 2 === 1 && i < parts.length - 1) {
        root.appendChild(el("pre", "code-block",
          unescapeEntities(part.replace(/^\n/, "").replace(/\n$/, ""))));
      } else {
        const prefix = i % 2 === 1 ? "```" : "";
        const lines = (prefix + part).split("\n");
        let buffer = [];
        const flush = () => {
          if (!buffer.length) return;
          const span = el("span");
          inline(span, buffer.join("\n"), ctx || {});
          root.appendChild(span);
          buffer = [];
        };
        lines.forEach((line, j) => {
          if (line.startsWith("> ") || line === ">") {
            // A literal ">" is the bot's own quote markup; an escaped "&gt;" is just text.
            flush();
            const quote = el("blockquote");
            inline(quote, line.replace(/^> ?/, ""), ctx || {});
            root.appendChild(quote);
          } else {
            buffer.push(line);
          }
          if (j === lines.length - 1) flush();
        });
      }
    });
    return root;
  }

  // plain_text objects: shown as written (entities too), emoji names replaced when asked.
  function plain(obj) {
    if (!obj) return "";
    const text = String(obj.text || "");
    return obj.emoji === false ? text : emojify(text);
  }

  return { render, plain, userLabel, unescapeEntities, emojify, EMOJI };
})();

if (typeof window !== "undefined") window.SandboxMrkdwn = SandboxMrkdwn;
if (typeof module !== "undefined") module.exports = SandboxMrkdwn;
