// The sandbox's Slack-like page. Reads the workspace as one user through /_sandbox/state,
// re-reads it whenever /_sandbox/events says something changed, and sends every click,
// submission and command through the interaction driver (/_sandbox/action, /submit, ...),
// so the bot gets exactly what Slack would send. All text goes through textContent or
// SandboxMrkdwn (no innerHTML anywhere).
"use strict";

(() => {
  const M = window.SandboxMrkdwn;
  const query = new URLSearchParams(location.search);
  const ui = {
    user: query.get("user") || localStorage.getItem("sandbox.user") || "alice",
    channel: query.get("channel") || "deploys",
    page: "channel",
    thread: null, // {channel, ts}
    state: null,
    drafts: {}, // "view/block/action" -> value typed in a modal
    refreshing: null,
    again: false,
  };
  const permalink = location.pathname.match(/^\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})/);
  if (permalink) {
    ui.channel = permalink[1];
    ui.highlight = `${permalink[2]}.${permalink[3]}`;
  }

  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function toast(message, kind) {
    const box = $("toast");
    box.textContent = message;
    box.className = kind || "error";
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  // POST a person's action; a failed delivery is shown (as Slack shows "the app did not
  // respond"), except where Slack stays silent (`quiet`, e.g. view_closed).
  async function post(path, body, quiet) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: ui.user, ...body }),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { ok: false, error: `HTTP ${response.status}` }; }
    if (!quiet && !data.ok && data.error && data.error !== "missing_inputs") {
      toast(`The app did not answer: ${data.error}`);
    }
    return data;
  }

  // -- reading the workspace -----------------------------------------------------------------

  async function refresh() {
    if (ui.refreshing) { ui.again = true; return ui.refreshing; }
    ui.refreshing = (async () => {
      do {
        ui.again = false;
        const url = `/_sandbox/state?user=${encodeURIComponent(ui.user)}` +
          `&channel=${encodeURIComponent(ui.channel)}`;
        const response = await fetch(url);
        if (!response.ok) { toast(`state: HTTP ${response.status}`); break; }
        ui.state = await response.json();
        ui.user = ui.state.me;
        render();
        if (ui.thread) await refreshThread();
      } while (ui.again);
    })();
    try { await ui.refreshing; } finally { ui.refreshing = null; }
  }

  async function refreshThread() {
    const t = ui.thread;
    const url = `/_sandbox/thread?user=${encodeURIComponent(ui.user)}` +
      `&channel=${encodeURIComponent(t.channel)}&ts=${encodeURIComponent(t.ts)}`;
    const response = await fetch(url);
    const pane = $("thread");
    if (!response.ok) { ui.thread = null; pane.hidden = true; return; }
    const data = await response.json();
    const list = $("thread-messages");
    list.replaceChildren(renderMessage(data.root, { inThread: true }));
    const n = data.replies.length;
    list.appendChild(el("div", "thread-divider", `${n} repl${n === 1 ? "y" : "ies"}`));
    data.replies.forEach((m) => list.appendChild(renderMessage(m, { inThread: true })));
    pane.hidden = false;
  }

  function connectEvents() {
    const source = new EventSource("/_sandbox/events");
    source.onopen = () => { $("connection").textContent = "● live"; $("connection").className = "connection live"; refresh(); };
    source.onerror = () => { $("connection").textContent = "reconnecting…"; $("connection").className = "connection"; };
    source.onmessage = () => refresh();
  }

  function context() {
    const s = ui.state;
    const users = {};
    s.users.forEach((u) => { users[u.id] = u; });
    const channels = {};
    s.channels.forEach((c) => { channels[c.id] = c; });
    return { users, channels };
  }

  // -- page ----------------------------------------------------------------------------------

  function render() {
    const s = ui.state;
    $("team-name").textContent = s.team.name;
    $("delivery").textContent = s.delivery;
    const picker = $("user-picker");
    picker.replaceChildren(...s.users.filter((u) => !u.is_bot).map((u) => {
      const option = el("option", null, `${u.name}${u.is_admin ? " (admin)" : ""}`);
      option.value = u.id;
      option.selected = u.id === s.me;
      return option;
    }));
    $("channel-list").replaceChildren(...s.channels.map((c) => {
      const item = el("button", "nav-item", c.is_im ? c.name : `# ${c.name}`);
      item.type = "button";
      item.dataset.channel = c.name;
      if (ui.page === "channel" && c.id === s.channel.id) item.classList.add("active");
      item.onclick = () => { ui.page = "channel"; ui.channel = c.id; ui.thread = null; $("thread").hidden = true; refresh(); };
      return item;
    }));
    $("nav-home").classList.toggle("active", ui.page === "home");
    if (ui.page === "home") renderHome(); else renderChannel();
    renderModal();
  }

  function renderChannel() {
    const s = ui.state;
    $("home").hidden = true;
    $("composer").hidden = false;
    const list = $("messages");
    list.hidden = false;
    $("channel-header").textContent = `# ${s.channel.name}`;
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    list.replaceChildren(...s.messages.map((m) => renderMessage(m, {})));
    if (!s.messages.length) list.appendChild(el("div", "empty", "No messages yet."));
    if (s.older) list.prepend(el("div", "empty", `${s.older} older messages not shown`));
    if (ui.highlight) {
      const target = list.querySelector(`[data-ts="${ui.highlight}"]`);
      if (target) { target.classList.add("highlight"); target.scrollIntoView(); }
      ui.highlight = null;
    } else if (nearBottom || !renderChannel.done) {
      list.scrollTop = list.scrollHeight;
    }
    renderChannel.done = true;
  }

  function renderHome() {
    const s = ui.state;
    $("messages").hidden = true;
    $("composer").hidden = true;
    const home = $("home");
    home.hidden = false;
    $("channel-header").textContent = "forest · Home";
    if (!s.home) {
      home.replaceChildren(el("div", "empty", "The app has not published a Home tab for you yet."));
      return;
    }
    const ctx = { ...context(), container: { view_id: s.home.id } };
    home.replaceChildren(renderBlocks(s.home.blocks, ctx));
  }

  function time(ts) {
    const d = new Date(parseFloat(ts) * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function renderMessage(m, opts) {
    const ctx = context();
    const user = ctx.users[m.user];
    const row = el("article", "message");
    row.dataset.ts = m.ts;
    if (m.ephemeral) row.classList.add("ephemeral");
    if (m.deleted) row.classList.add("deleted");
    row.appendChild(el("div", "avatar", (user ? user.name : "?").slice(0, 1).toUpperCase()));
    const body = el("div", "message-body");
    const meta = el("div", "meta");
    meta.appendChild(el("span", "author", user ? (m.bot ? user.name : user.real_name) : m.user));
    if (m.bot) meta.appendChild(el("span", "badge", "APP"));
    meta.appendChild(el("span", "time", time(m.ts)));
    if (m.edited) meta.appendChild(el("span", "edited", "(edited)"));
    body.appendChild(meta);
    if (m.ephemeral) body.appendChild(el("div", "only-you", "👁 Only visible to you"));
    const container = { channel: ui.state.channel.id, ts: m.ts };
    if (m.blocks && m.blocks.length) {
      body.appendChild(renderBlocks(m.blocks, { ...ctx, container }));
    } else {
      body.appendChild(M.render(m.text, ctx));
    }
    (m.files || []).forEach((f) => body.appendChild(renderFile(f)));
    if (!opts.inThread && !m.ephemeral) {
      const replies = el("button", "replies", m.reply_count ? `${m.reply_count} repl${m.reply_count === 1 ? "y" : "ies"}` : "Reply in thread");
      replies.type = "button";
      if (!m.reply_count) replies.classList.add("quiet");
      replies.onclick = () => { ui.thread = { channel: ui.state.channel.id, ts: m.ts }; refreshThread(); };
      body.appendChild(replies);
    }
    row.appendChild(body);
    return row;
  }

  function renderFile(f) {
    const card = el("div", "file");
    card.dataset.fileId = f.id;
    const head = el("div", "file-head");
    head.appendChild(el("span", "file-icon", "📄"));
    const link = el("a", "file-name", f.title || f.name);
    link.href = f.url;
    link.target = "_blank";
    link.rel = "noopener";
    head.appendChild(link);
    head.appendChild(el("span", "file-size", `${f.name} · ${f.size.toLocaleString()} bytes`));
    card.appendChild(head);
    if (f.preview !== null && f.preview !== undefined) {
      card.appendChild(el("pre", "file-preview", f.preview));
    }
    return card;
  }

  // -- Block Kit -----------------------------------------------------------------------------

  function textObject(obj, ctx) {
    if (!obj) return el("span");
    if (obj.type === "mrkdwn") return M.render(obj.text, ctx);
    return el("span", "plain", M.plain(obj));
  }

  function renderBlocks(blocks, ctx) {
    const wrap = el("div", "blocks");
    (blocks || []).forEach((b) => {
      const node = renderBlock(b, ctx);
      node.dataset.blockId = b.block_id || "";
      node.classList.add("block", `block-${b.type}`);
      wrap.appendChild(node);
    });
    return wrap;
  }

  function renderBlock(b, ctx) {
    switch (b.type) {
      case "header":
        return el("h3", null, M.plain(b.text));
      case "section": {
        const node = el("div");
        const main = el("div", "section-main");
        if (b.text) main.appendChild(textObject(b.text, ctx));
        if (b.fields) {
          const grid = el("div", "fields");
          b.fields.forEach((f) => grid.appendChild(textObject(f, ctx)));
          main.appendChild(grid);
        }
        node.appendChild(main);
        if (b.accessory) {
          const acc = el("div", "accessory");
          acc.appendChild(renderElement(b.accessory, b.block_id, ctx));
          node.appendChild(acc);
        }
        return node;
      }
      case "context": {
        const node = el("div");
        (b.elements || []).forEach((e) => {
          node.appendChild(e.type === "image" ? imagePlaceholder(e, "small") : textObject(e, ctx));
        });
        return node;
      }
      case "divider":
        return el("hr");
      case "actions": {
        const node = el("div");
        (b.elements || []).forEach((e) => node.appendChild(renderElement(e, b.block_id, ctx)));
        return node;
      }
      case "image": {
        const node = el("div");
        if (b.title) node.appendChild(el("div", "image-title", M.plain(b.title)));
        node.appendChild(imagePlaceholder(b, "large"));
        return node;
      }
      case "rich_text":
        return richText(b, ctx);
      case "markdown": {
        const node = el("div", "markdown");
        node.appendChild(el("div", "plain", b.text || ""));
        return node;
      }
      case "input":
        return renderInput(b, ctx);
      case "file":
        return el("div", "file", `📄 file ${b.file_id || ""}`);
      default:
        return el("div", "unsupported", `[unsupported block: ${b.type}]`);
    }
  }

  function imagePlaceholder(e, size) {
    const box = el("div", `image-placeholder ${size}`, `🖼 ${e.alt_text || "image"}`);
    box.title = e.image_url || "";
    return box;
  }

  function richText(b, ctx) {
    const node = el("div", "rich-text");
    (b.elements || []).forEach((part) => node.appendChild(richPart(part, ctx)));
    return node;
  }

  function richPart(part, ctx) {
    switch (part.type) {
      case "rich_text_section": {
        const span = el("div", "rt-section");
        (part.elements || []).forEach((e) => span.appendChild(richInline(e, ctx)));
        return span;
      }
      case "rich_text_preformatted": {
        const pre = el("pre", "code-block");
        (part.elements || []).forEach((e) => pre.appendChild(document.createTextNode(e.text || e.url || "")));
        return pre;
      }
      case "rich_text_quote": {
        const quote = el("blockquote");
        (part.elements || []).forEach((e) => quote.appendChild(richInline(e, ctx)));
        return quote;
      }
      case "rich_text_list": {
        const list = el(part.style === "ordered" ? "ol" : "ul");
        (part.elements || []).forEach((item) => {
          const li = el("li");
          li.appendChild(richPart(item, ctx));
          list.appendChild(li);
        });
        return list;
      }
      default:
        return el("span", "unsupported", `[${part.type}]`);
    }
  }

  function richInline(e, ctx) {
    let node;
    switch (e.type) {
      case "text": {
        node = document.createDocumentFragment();
        // rich_text text elements are literal: no mrkdwn, no entities.
        String(e.text || "").split("\n").forEach((line, i) => {
          if (i) node.appendChild(el("br"));
          node.appendChild(document.createTextNode(line));
        });
        break;
      }
      case "link": {
        node = el("a", "link", e.text || e.url);
        if (/^(https?:|mailto:)/i.test(e.url || "")) { node.href = e.url; node.target = "_blank"; node.rel = "noopener noreferrer"; }
        break;
      }
      case "user": {
        node = el("span", "mention", M.userLabel(e.user_id, ctx.users));
        break;
      }
      case "channel": {
        const c = ctx.channels[e.channel_id];
        node = el("span", "mention channel", `#${c ? c.name : e.channel_id}`);
        break;
      }
      case "emoji":
        node = document.createTextNode(e.unicode ? String.fromCodePoint(...e.unicode.split("-").map((h) => parseInt(h, 16))) : (M.EMOJI[e.name] || `:${e.name}:`));
        break;
      case "broadcast":
        node = el("span", "mention broadcast", `@${e.range}`);
        break;
      default:
        node = el("span", "unsupported", `[${e.type}]`);
    }
    const style = e.style || {};
    if (e.type === "text" && Object.keys(style).length) {
      let wrapped = node;
      [["code", "code"], ["bold", "b"], ["italic", "i"], ["strike", "s"]].forEach(([k, tag]) => {
        if (style[k]) { const w = el(tag); w.appendChild(wrapped); wrapped = w; }
      });
      return wrapped;
    }
    return node;
  }

  function renderElement(e, blockId, ctx) {
    switch (e.type) {
      case "button": {
        const button = el("button", `btn ${e.style || ""}`, M.plain(e.text));
        button.type = "button";
        button.dataset.actionId = e.action_id || "";
        if (e.url) button.title = e.url;
        button.onclick = () => {
          // A link button opens its URL and still tells the app (block_actions), as on Slack.
          if (e.url && /^(https?:|mailto:)/i.test(e.url)) window.open(e.url, "_blank", "noopener");
          act(ctx, blockId, e, undefined, button);
        };
        return button;
      }
      case "overflow": {
        const wrap = el("span", "overflow");
        const toggle = el("button", "btn overflow-toggle", "⋯");
        toggle.type = "button";
        toggle.dataset.actionId = e.action_id || "";
        const menu = el("div", "overflow-menu");
        menu.hidden = true;
        (e.options || []).forEach((o) => {
          const item = el("button", "overflow-item", M.plain(o.text));
          item.type = "button";
          item.dataset.value = o.value;
          item.onclick = () => { menu.hidden = true; act(ctx, blockId, e, o.value, toggle); };
          menu.appendChild(item);
        });
        toggle.onclick = () => { menu.hidden = !menu.hidden; };
        wrap.append(toggle, menu);
        return wrap;
      }
      case "static_select": {
        const select = el("select", "select");
        select.dataset.actionId = e.action_id || "";
        const placeholder = el("option", null, M.plain(e.placeholder) || "Select…");
        placeholder.value = "";
        select.appendChild(placeholder);
        allOptions(e).forEach((o) => {
          const option = el("option", null, M.plain(o.text));
          option.value = o.value;
          option.selected = !!(e.initial_option && e.initial_option.value === o.value);
          select.appendChild(option);
        });
        select.onchange = () => { if (select.value) act(ctx, blockId, e, select.value, select); };
        return select;
      }
      case "image":
        return imagePlaceholder(e, "small");
      default:
        return el("span", "unsupported", `[${e.type}]`);
    }
  }

  function allOptions(e) {
    const options = [...(e.options || [])];
    (e.option_groups || []).forEach((g) => options.push(...(g.options || [])));
    return options;
  }

  async function act(ctx, blockId, e, value, control) {
    if (e.confirm && !(await confirmDialog(e.confirm))) return;
    control.disabled = true;
    try {
      const body = { action_id: e.action_id, block_id: blockId, value };
      if (ctx.container.view_id) body.view_id = ctx.container.view_id;
      else { body.channel = ctx.container.channel; body.ts = ctx.container.ts; }
      await post("/_sandbox/action", body);
    } finally {
      control.disabled = false;
    }
  }

  function confirmDialog(c) {
    return new Promise((resolve) => {
      const layer = $("confirm-layer");
      const box = el("div", "dialog confirm");
      box.setAttribute("role", "dialog");
      box.appendChild(el("h2", null, M.plain(c.title) || "Are you sure?"));
      box.appendChild(textObject(c.text, context()));
      const buttons = el("div", "dialog-buttons");
      const deny = el("button", "btn", M.plain(c.deny) || "Cancel");
      const ok = el("button", `btn ${c.style === "danger" ? "danger" : "primary"}`, M.plain(c.confirm) || "Yes");
      deny.type = ok.type = "button";
      deny.classList.add("confirm-deny");
      ok.classList.add("confirm-ok");
      const done = (answer) => { layer.hidden = true; layer.replaceChildren(); resolve(answer); };
      deny.onclick = () => done(false);
      ok.onclick = () => done(true);
      buttons.append(deny, ok);
      box.appendChild(buttons);
      layer.replaceChildren(box);
      layer.hidden = false;
    });
  }

  // -- modals --------------------------------------------------------------------------------

  function draftKey(viewId, blockId, actionId) { return `${viewId}/${blockId}/${actionId}`; }

  function renderInput(b, ctx) {
    const node = el("div", "input-block");
    const label = el("label", "input-label", M.plain(b.label));
    if (b.optional) label.appendChild(el("span", "optional", " (optional)"));
    node.appendChild(label);
    const e = b.element || {};
    const key = draftKey(ctx.container.view_id, b.block_id, e.action_id);
    const has = Object.prototype.hasOwnProperty.call(ui.drafts, key);
    let control;
    if (e.type === "plain_text_input") {
      control = el(e.multiline ? "textarea" : "input", "text-input");
      if (!e.multiline) control.type = "text";
      control.value = has ? ui.drafts[key] : (e.initial_value || "");
      if (e.placeholder) control.placeholder = M.plain(e.placeholder);
      if (e.max_length) control.maxLength = e.max_length;
      control.oninput = () => { ui.drafts[key] = control.value; };
    } else if (e.type === "static_select" || e.type === "radio_buttons") {
      control = el("select", "select");
      const placeholder = el("option", null, M.plain(e.placeholder) || "Select an option");
      placeholder.value = "";
      control.appendChild(placeholder);
      const initial = has ? ui.drafts[key] : (e.initial_option ? e.initial_option.value : "");
      allOptions(e).forEach((o) => {
        const option = el("option", null, M.plain(o.text));
        option.value = o.value;
        option.selected = o.value === initial;
        control.appendChild(option);
      });
      control.onchange = () => { ui.drafts[key] = control.value; };
    } else if (e.type === "users_select") {
      control = el("select", "select");
      const placeholder = el("option", null, M.plain(e.placeholder) || "Select a person");
      placeholder.value = "";
      control.appendChild(placeholder);
      const initial = has ? ui.drafts[key] : (e.initial_user || "");
      ui.state.users.filter((u) => !u.is_bot).forEach((u) => {
        const option = el("option", null, u.real_name);
        option.value = u.id;
        option.selected = u.id === initial;
        control.appendChild(option);
      });
      control.onchange = () => { ui.drafts[key] = control.value; };
    } else if (e.type === "checkboxes") {
      control = el("div", "checkboxes");
      const initial = has ? ui.drafts[key] : (e.initial_options || []).map((o) => o.value);
      allOptions(e).forEach((o) => {
        const row = el("label", "checkbox");
        const box = el("input");
        box.type = "checkbox";
        box.value = o.value;
        box.checked = initial.includes(o.value);
        box.onchange = () => {
          ui.drafts[key] = [...control.querySelectorAll("input:checked")].map((x) => x.value);
        };
        row.append(box, document.createTextNode(" " + M.plain(o.text)));
        control.appendChild(row);
      });
    } else {
      control = el("span", "unsupported", `[${e.type}]`);
    }
    control.dataset.actionId = e.action_id || "";
    control.dataset.draftKey = key;
    node.appendChild(control);
    if (b.hint) node.appendChild(el("div", "hint", M.plain(b.hint)));
    return node;
  }

  function currentValue(control) {
    if (control.classList.contains("checkboxes")) {
      return [...control.querySelectorAll("input:checked")].map((x) => x.value);
    }
    return control.value;
  }

  function renderModal() {
    const layer = $("modal-layer");
    const views = ui.state.views;
    if (!views.length) {
      layer.hidden = true;
      layer.replaceChildren();
      renderModal.signature = null;
      return;
    }
    const view = views[views.length - 1];
    // Re-render only when the view itself changed, so typing is never interrupted.
    const signature = JSON.stringify([view.id, view.hash, view.errors, views.length]);
    if (!layer.hidden && renderModal.signature === signature) return;
    renderModal.signature = signature;
    const ctx = { ...context(), container: { view_id: view.id } };
    const dialog = el("div", "dialog modal");
    dialog.id = "modal";
    dialog.setAttribute("role", "dialog");
    dialog.dataset.viewId = view.id;
    dialog.dataset.callbackId = view.callback_id || "";
    const head = el("header");
    if (views.length > 1) head.appendChild(el("span", "stack-depth", `${views.length} ›`));
    head.appendChild(el("h2", null, M.plain(view.title)));
    const x = el("button", "modal-x", "✕");
    x.type = "button";
    x.setAttribute("aria-label", "Close");
    x.onclick = () => closeModal(view);
    head.appendChild(x);
    dialog.appendChild(head);
    const errors = view.errors || {};
    if (errors[""]) dialog.appendChild(el("div", "modal-error", errors[""]));
    const body = renderBlocks(view.blocks, ctx);
    body.classList.add("modal-body");
    body.querySelectorAll(".block-input").forEach((block) => {
      const message = errors[block.dataset.blockId];
      if (message) {
        block.classList.add("has-error");
        block.appendChild(el("div", "input-error", message));
      }
    });
    dialog.appendChild(body);
    const foot = el("footer");
    const close = el("button", "btn modal-close", M.plain(view.close) || "Cancel");
    close.type = "button";
    close.onclick = () => closeModal(view);
    foot.appendChild(close);
    if (view.submit) {
      const submit = el("button", "btn primary modal-submit", M.plain(view.submit));
      submit.type = "button";
      submit.onclick = () => submitModal(view, dialog, submit);
      foot.appendChild(submit);
    }
    dialog.appendChild(foot);
    layer.replaceChildren(dialog);
    layer.hidden = false;
  }

  async function submitModal(view, dialog, button) {
    const values = {};
    dialog.querySelectorAll(".block-input").forEach((block) => {
      const control = block.querySelector("[data-draft-key]");
      if (!control || control.classList.contains("unsupported")) return;
      const value = currentValue(control);
      values[`${block.dataset.blockId}.${control.dataset.actionId}`] = value === "" ? null : value;
    });
    button.disabled = true;
    try {
      const result = await post("/_sandbox/submit", { view_id: view.id, values });
      if (result.closed) {
        Object.keys(ui.drafts).filter((k) => k.startsWith(`${view.id}/`)).forEach((k) => delete ui.drafts[k]);
      }
    } finally {
      button.disabled = false;
    }
  }

  async function closeModal(view) {
    await post("/_sandbox/close", { view_id: view.id }, true);
  }

  // -- composing -----------------------------------------------------------------------------

  async function send(text, threadTs) {
    text = text.trim();
    if (!text) return;
    if (text.startsWith("/") && !threadTs) {
      const [command, ...rest] = text.split(" ");
      const result = await post("/_sandbox/command", { command, text: rest.join(" "), channel: ui.state.channel.id });
      if (result.ok) toast(`${command} sent`, "info");
    } else {
      await post("/_sandbox/message", { text, channel: ui.state.channel.id, thread_ts: threadTs });
    }
  }

  function wireComposer(form, input, threadTs) {
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const text = input.value;
      input.value = "";
      await send(text, threadTs());
    };
    input.onkeydown = (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
    };
  }

  function start() {
    $("user-picker").onchange = (ev) => {
      ui.user = ev.target.value;
      localStorage.setItem("sandbox.user", ui.user);
      ui.drafts = {};
      if (ui.page === "home") post("/_sandbox/home", {});
      refresh();
    };
    $("nav-home").onclick = async () => {
      ui.page = "home";
      ui.thread = null;
      $("thread").hidden = true;
      render();
      await post("/_sandbox/home", {});
    };
    $("thread-close").onclick = () => { ui.thread = null; $("thread").hidden = true; };
    wireComposer($("composer"), $("composer-input"), () => null);
    wireComposer($("thread-composer"), $("thread-input"), () => ui.thread && ui.thread.ts);
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && ui.state && ui.state.views.length) {
        closeModal(ui.state.views[ui.state.views.length - 1]);
      }
    });
    refresh().then(connectEvents);
  }

  start();
})();
