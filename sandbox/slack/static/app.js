/* The emulator's page: draws /_emulator/state like Slack and acts through the control API.
 *
 * Every piece of text that came from the bot or a person goes through esc() or mrkdwn(), which
 * escape first and only then add our own tags: the page is an XSS surface by design (bots echo
 * user input). Clicks, submits and commands use the same /_emulator/* calls as the tests.
 */
"use strict";

const S = {
  data: null,
  version: null,
  user: localStorage.getItem("slack-emulator-user") || null,
  channel: null,
  thread: null,
  highlight: null,
  seen: JSON.parse(localStorage.getItem("slack-emulator-seen") || "{}"),
  modalKey: null,
  home: false, // the acting user's App Home tab is on screen instead of a channel
};

// ---- small helpers ------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function esc(value) {
  return String(value == null ? "" : value)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

function safeUrl(url) {
  const u = String(url || "").trim();
  return /^(https?:|mailto:)/i.test(u) ? u : null;
}

const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", ballot_box_with_check: "☑️", x: "❌",
  negative_squared_cross_mark: "❎", no_entry: "⛔", no_entry_sign: "🚫", warning: "⚠️",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", stopwatch: "⏱️", alarm_clock: "⏰",
  clock1: "🕐", key: "🔑", lock: "🔒", unlock: "🔓", closed_lock_with_key: "🔐",
  rotating_light: "🚨", information_source: "ℹ️", memo: "📝", page_facing_up: "📄",
  bust_in_silhouette: "👤", busts_in_silhouette: "👥", eyes: "👀", tada: "🎉", wave: "👋",
  thumbsup: "👍", "+1": "👍", thumbsdown: "👎", "-1": "👎", red_circle: "🔴",
  large_green_circle: "🟢", large_yellow_circle: "🟡", white_circle: "⚪", arrow_right: "➡️",
  heavy_minus_sign: "➖", speech_balloon: "💬", robot_face: "🤖", shield: "🛡️", gear: "⚙️",
  ladder: "🪜", link: "🔗", mag: "🔍", fire: "🔥", sparkles: "✨", calendar: "📆",
  heavy_plus_sign: "➕", question: "❓", exclamation: "❗", pencil2: "✏️", cloud: "☁️",
};

function emojify(html) {
  return html.replace(/:([a-z0-9_+\-]+):/g, (m, name) => EMOJI[name] || m);
}

function userName(id) {
  if (!S.data) return id;
  if (id === S.data.bot.id) return S.data.bot.real_name;
  if (id === "USLACKBOT") return "Slackbot";
  const u = S.data.users.find((x) => x.id === id);
  return u ? u.name : id;
}

function realName(id) {
  if (!S.data) return id;
  if (id === S.data.bot.id) return S.data.bot.real_name;
  if (id === "USLACKBOT") return "Slackbot";
  const u = S.data.users.find((x) => x.id === id);
  return u ? u.real_name || u.name : id;
}

function channelName(id) {
  const c = S.data && S.data.channels.find((x) => x.id === id);
  return c ? c.name : id;
}

const COLORS = ["#e8912d", "#2bac76", "#1d9bd1", "#9f69b3", "#e01e5a", "#4a9c8c", "#d45d79", "#5b6abf"];

function avatar(id, extra) {
  const isBot = S.data && id === S.data.bot.id;
  const letter = isBot ? "✓" : id === "USLACKBOT" ? "♥" : (userName(id)[0] || "?").toUpperCase();
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const color = isBot ? "#4a154b" : id === "USLACKBOT" ? "#36c5f0" : COLORS[h % COLORS.length];
  return `<span class="avatar ${extra || ""}" style="background:${color}" aria-hidden="true">${esc(letter)}</span>`;
}

function timeOf(ts) {
  const d = new Date(parseFloat(ts) * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function dmOf(userId) {
  return "D" + userId.slice(1);
}

// ---- mrkdwn --------------------------------------------------------------------------------

/* Slack mrkdwn → safe HTML. Special tokens (<@U…>, <url|label>, code) are swapped for
 * placeholders before escaping and formatting, so formatting can wrap them and nothing the
 * sender wrote ever reaches innerHTML unescaped. */
function mrkdwn(raw, plain) {
  if (raw == null) return "";
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  const unslack = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  let text = String(raw);
  if (!plain) {
    text = text.replace(/```([\s\S]*?)```/g, (m, code) => hold(`<pre class="code-block">${esc(unslack(code.replace(/^\n/, "")))}</pre>`));
    text = text.replace(/`([^`\n]+)`/g, (m, code) => hold(`<code>${esc(unslack(code))}</code>`));
    text = text.replace(/<([^<>\n]+)>/g, (m, inner) => hold(token(inner, unslack)));
  }
  let html = esc(plain ? text : unslack(text));
  if (!plain) {
    html = html
      .replace(/(^|[\s(>\u0000])\*(?=\S)([^*\n]*?\S)\*(?=$|[\s).,!?:;\u0000<])/g, "$1<b>$2</b>")
      .replace(/(^|[\s(>\u0000])_(?=\S)([^_\n]*?\S)_(?=$|[\s).,!?:;\u0000<])/g, "$1<i>$2</i>")
      .replace(/(^|[\s(>\u0000])~(?=\S)([^~\n]*?\S)~(?=$|[\s).,!?:;\u0000<])/g, "$1<s>$2</s>")
      .replace(/^&gt; ?(.*)$/gm, '<span class="quote">$1</span>');
  }
  html = emojify(html).replace(/\n/g, "<br>");
  return html.replace(/\u0000(\d+)\u0000/g, (m, i) => held[Number(i)]);
}

function token(inner, unslack) {
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return `<span class="mention">@${esc(label || userName(id))}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return `<span class="mention">#${esc(label || channelName(id))}</span>`;
  }
  if (target.startsWith("!date^")) return dateToken(target, label, unslack);
  if (target.startsWith("!")) {
    const word = target.slice(1).split("^")[0];
    return `<span class="mention mention-special">@${esc(label || word)}</span>`;
  }
  const url = safeUrl(unslack(target));
  const shown = label != null ? unslack(label) : unslack(target);
  if (!url) return esc(`<${unslack(inner)}>`);
  return `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer">${esc(shown)}</a>`;
}

/* <!date^1392734382^{date_short} {time}|fallback> (api.slack.com/reference/surfaces/formatting,
 * "Date formatting"): Slack shows it in the reader's own time zone; here that is the browser's.
 * A token with a bad timestamp shows its fallback text, as Slack's clients do. */
function dateToken(target, label, unslack) {
  const [, stamp, format, link] = target.split("^");
  const seconds = Number(stamp);
  const fallback = label != null ? unslack(label) : "";
  if (!stamp || !Number.isFinite(seconds) || format == null) return esc(fallback);
  const when = new Date(seconds * 1000);
  const shown = unslack(format).replace(/\{(\w+)\}/g, (m, name) => dateWord(name, when) ?? m);
  const url = link ? safeUrl(unslack(link)) : null;
  const body = `<time class="date-token" datetime="${esc(when.toISOString())}" title="${esc(fallback)}">${esc(shown)}</time>`;
  return url ? `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer">${body}</a>` : body;
}

function ordinal(n) {
  const rule = new Intl.PluralRules("en-US", { type: "ordinal" }).select(n);
  return n + ({ one: "st", two: "nd", few: "rd" }[rule] || "th");
}

function dayOffset(when) {
  const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  return Math.round((day(when) - day(new Date())) / 86400000);
}

function dateWord(name, when) {
  const part = (options) => new Intl.DateTimeFormat("en-US", options).format(when);
  const month = part({ month: "long" });
  const year = when.getFullYear();
  const pretty = { [-1]: "yesterday", 0: "today", 1: "tomorrow" }[dayOffset(when)];
  const words = {
    date_num: `${year}-${String(when.getMonth() + 1).padStart(2, "0")}-${String(when.getDate()).padStart(2, "0")}`,
    date: `${month} ${ordinal(when.getDate())}, ${year}`,
    date_short: part({ month: "short", day: "numeric", year: "numeric" }),
    date_long: `${part({ weekday: "long" })}, ${month} ${ordinal(when.getDate())}, ${year}`,
    time: part({ hour: "numeric", minute: "2-digit" }),
    time_secs: part({ hour: "numeric", minute: "2-digit", second: "2-digit" }),
    ago: ago(when),
  };
  words.date_pretty = pretty ? capitalize(pretty) : words.date;
  words.date_short_pretty = pretty ? capitalize(pretty) : words.date_short;
  words.date_long_pretty = pretty ? capitalize(pretty) : words.date_long;
  return words[name];
}

function capitalize(word) {
  return word[0].toUpperCase() + word.slice(1);
}

function ago(when) {
  const seconds = Math.round((when.getTime() - Date.now()) / 1000);
  const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
  const [unit, size] = units.find(([, n]) => Math.abs(seconds) >= n) || ["second", 1];
  return new Intl.RelativeTimeFormat("en-US", { numeric: "auto" }).format(Math.round(seconds / size), unit);
}

function textObj(obj) {
  if (!obj) return "";
  if (obj.type === "plain_text") return obj.emoji === false ? esc(obj.text) : mrkdwn(obj.text, true);
  return mrkdwn(obj.text);
}

function plainText(obj) {
  return obj && obj.text != null ? obj.text : "";
}

// ---- Block Kit -----------------------------------------------------------------------------

/* ctx says where a block lives, so an element can carry what a click needs:
 * {kind: "message"|"ephemeral"|"view", channel, ts, view_id}. */
function renderBlocks(blocks, ctx) {
  return (blocks || []).map((b) => renderBlock(b, ctx)).join("");
}

function renderBlock(b, ctx) {
  const bid = b.block_id || "";
  switch (b.type) {
    case "header":
      return `<div class="b-header">${textObj(b.text)}</div>`;
    case "divider":
      return `<hr class="b-divider">`;
    case "section": {
      const fields = (b.fields || []).map((f) => `<div class="b-field">${textObj(f)}</div>`).join("");
      const acc = b.accessory ? `<div class="b-accessory">${renderElement(b.accessory, bid, ctx)}</div>` : "";
      return `<div class="b-section"><div class="b-section-main">${b.text ? `<div class="b-text">${textObj(b.text)}</div>` : ""}${fields ? `<div class="b-fields">${fields}</div>` : ""}</div>${acc}</div>`;
    }
    case "context":
      return `<div class="b-context">${(b.elements || []).map((e) => e.type === "image" ? imageTag(e, "ctx-img") : `<span>${textObj(e)}</span>`).join("")}</div>`;
    case "actions":
      return `<div class="b-actions">${(b.elements || []).map((e) => renderElement(e, bid, ctx)).join("")}</div>`;
    case "image":
      return `<figure class="b-image">${b.title ? `<figcaption>${textObj(b.title)}</figcaption>` : ""}${imageTag(b, "")}</figure>`;
    case "markdown":
      return `<div class="b-text b-markdown">${mrkdwn(String(b.text || "").replace(/\*\*([^*\n]+)\*\*/g, "*$1*"))}</div>`;
    case "rich_text":
      return `<div class="b-text">${(b.elements || []).map(richElement).join("")}</div>`;
    case "input":
      return renderInput(b, ctx);
    default:
      return `<div class="b-unknown">[${esc(b.type)} block]</div>`;
  }
}

function imageTag(e, cls) {
  const url = safeUrl(e.image_url);
  if (!url) return `<span class="img-missing ${cls}">${esc(e.alt_text || "image")}</span>`;
  return `<img class="${cls}" src="${esc(url)}" alt="${esc(e.alt_text || "")}" loading="lazy">`;
}

function richElement(el) {
  const inner = (el.elements || []).map(richInline).join("");
  switch (el.type) {
    case "rich_text_section": return `<div>${inner}</div>`;
    case "rich_text_preformatted": return `<pre class="code-block">${inner}</pre>`;
    case "rich_text_quote": return `<span class="quote">${inner}</span>`;
    case "rich_text_list":
      return `<${el.style === "ordered" ? "ol" : "ul"}>${(el.elements || []).map((s) => `<li>${(s.elements || []).map(richInline).join("")}</li>`).join("")}</${el.style === "ordered" ? "ol" : "ul"}>`;
    default: return "";
  }
}

function richInline(e) {
  let html;
  switch (e.type) {
    case "text": html = esc(e.text).replace(/\n/g, "<br>"); break;
    case "link": {
      const url = safeUrl(e.url);
      html = url ? `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer">${esc(e.text || e.url)}</a>` : esc(e.text || e.url);
      break;
    }
    case "user": html = `<span class="mention">@${esc(userName(e.user_id))}</span>`; break;
    case "channel": html = `<span class="mention">#${esc(channelName(e.channel_id))}</span>`; break;
    case "emoji": html = EMOJI[e.name] || `:${esc(e.name)}:`; break;
    default: html = "";
  }
  const st = e.style || {};
  if (st.code) html = `<code>${html}</code>`;
  if (st.bold) html = `<b>${html}</b>`;
  if (st.italic) html = `<i>${html}</i>`;
  if (st.strike) html = `<s>${html}</s>`;
  return html;
}

function actionAttrs(el, bid, ctx) {
  const confirm = el.confirm ? ` data-confirm="${esc(JSON.stringify(el.confirm))}"` : "";
  const where = ctx.kind === "view"
    ? ` data-view-id="${esc(ctx.view_id)}"`
    : ` data-channel="${esc(ctx.channel)}" data-ts="${esc(ctx.ts)}"`;
  return `data-action-id="${esc(el.action_id)}" data-block-id="${esc(bid)}"${where}${confirm}`;
}

function renderElement(el, bid, ctx) {
  switch (el.type) {
    case "button": {
      const style = el.style === "primary" ? "btn-primary" : el.style === "danger" ? "btn-danger" : "";
      const url = safeUrl(el.url);
      return `<button type="button" class="btn ${style}" data-kind="button" ${actionAttrs(el, bid, ctx)}${url ? ` data-url="${esc(url)}"` : ""}>${esc(plainText(el.text))}</button>`;
    }
    case "static_select":
    case "overflow": {
      const opts = optionsOf(el).map((o) => `<option value="${esc(o.value)}">${esc(plainText(o.text))}</option>`).join("");
      const ph = el.type === "overflow" ? "⋯" : plainText(el.placeholder) || "Select an option";
      return `<select class="select" data-kind="select" ${actionAttrs(el, bid, ctx)}><option value="">${esc(ph)}</option>${opts}</select>`;
    }
    case "image":
      return imageTag(el, "acc-img");
    default:
      return `<span class="b-unknown">[${esc(el.type)}]</span>`;
  }
}

function optionsOf(el) {
  const opts = [...(el.options || [])];
  for (const g of el.option_groups || []) opts.push(...(g.options || []));
  return opts;
}

function stateValue(ctx, bid, aid) {
  const v = ctx.state && ctx.state[bid] && ctx.state[bid][aid];
  return v || null;
}

function renderInput(b, ctx) {
  const el = b.element || {};
  const bid = b.block_id || "";
  const aid = el.action_id || "";
  const err = ctx.errors && ctx.errors[bid];
  const prior = stateValue(ctx, bid, aid);
  const id = `in-${bid}-${aid}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const data = `data-input="1" data-block-id="${esc(bid)}" data-action-id="${esc(aid)}" data-type="${esc(el.type)}"`;
  const ph = esc(plainText(el.placeholder));
  let control;
  switch (el.type) {
    case "plain_text_input":
    case "email_text_input":
    case "url_text_input":
    case "number_input": {
      const value = prior ? prior.value : el.initial_value;
      const type = { email_text_input: "email", url_text_input: "url", number_input: "text" }[el.type] || "text";
      const max = el.max_length ? ` maxlength="${Number(el.max_length)}"` : "";
      control = el.multiline
        ? `<textarea id="${id}" ${data} placeholder="${ph}" rows="4"${max}>${esc(value || "")}</textarea>`
        : `<input id="${id}" type="${type}" ${data} placeholder="${ph}" value="${esc(value || "")}"${max}>`;
      break;
    }
    case "static_select":
    case "radio_buttons": {
      const chosen = prior && prior.selected_option ? prior.selected_option.value : el.initial_option && el.initial_option.value;
      if (el.type === "radio_buttons") {
        control = `<div class="radios" ${data}>${optionsOf(el).map((o, i) => `<label class="check"><input type="radio" name="${id}" value="${esc(o.value)}"${o.value === chosen ? " checked" : ""}> ${textObj(o.text)}</label>`).join("")}</div>`;
      } else {
        control = `<select id="${id}" class="select" ${data}><option value="">${ph || "Select an option"}</option>${optionsOf(el).map((o) => `<option value="${esc(o.value)}"${o.value === chosen ? " selected" : ""}>${esc(plainText(o.text))}</option>`).join("")}</select>`;
      }
      break;
    }
    case "checkboxes":
    case "multi_static_select": {
      const chosen = new Set(((prior && prior.selected_options) || el.initial_options || []).map((o) => o.value));
      control = `<div class="checks" ${data}>${optionsOf(el).map((o) => `<label class="check"><input type="checkbox" value="${esc(o.value)}"${chosen.has(o.value) ? " checked" : ""}> ${textObj(o.text)}</label>`).join("")}</div>`;
      break;
    }
    case "users_select": {
      const chosen = (prior && prior.selected_user) || el.initial_user;
      control = `<select id="${id}" class="select" ${data}><option value="">${ph || "Select a person"}</option>${S.data.users.map((u) => `<option value="${esc(u.id)}"${u.id === chosen ? " selected" : ""}>${esc(u.real_name || u.name)}</option>`).join("")}</select>`;
      break;
    }
    case "conversations_select":
    case "channels_select": {
      const chosen = prior && (prior.selected_conversation || prior.selected_channel);
      control = `<select id="${id}" class="select" ${data}><option value="">${ph || "Select a channel"}</option>${S.data.channels.filter((c) => !c.is_im).map((c) => `<option value="${esc(c.id)}"${c.id === chosen ? " selected" : ""}>#${esc(c.name)}</option>`).join("")}</select>`;
      break;
    }
    case "datepicker": {
      const value = (prior && prior.selected_date) || el.initial_date || "";
      control = `<input id="${id}" type="date" ${data} value="${esc(value)}">`;
      break;
    }
    default:
      control = `<span class="b-unknown">[${esc(el.type)} input]</span>`;
  }
  return `<div class="b-input${err ? " has-error" : ""}" data-block="${esc(bid)}">
    <label class="b-label" for="${id}">${esc(plainText(b.label))}${b.optional ? ' <span class="optional">(optional)</span>' : ""}</label>
    ${control}
    ${b.hint ? `<div class="b-hint">${textObj(b.hint)}</div>` : ""}
    ${err ? `<div class="b-error" role="alert">${esc(err)}</div>` : ""}
  </div>`;
}

function collectValues(root) {
  const values = {};
  root.querySelectorAll("[data-input]").forEach((node) => {
    const bid = node.dataset.blockId;
    const aid = node.dataset.actionId;
    let value;
    if (node.classList.contains("checks")) {
      value = [...node.querySelectorAll("input:checked")].map((i) => i.value);
    } else if (node.classList.contains("radios")) {
      const checked = node.querySelector("input:checked");
      value = checked ? checked.value : "";
    } else {
      value = node.value;
    }
    (values[bid] = values[bid] || {})[aid] = value;
  });
  return values;
}

// ---- messages ------------------------------------------------------------------------------

function renderMessage(m, opts) {
  const o = opts || {};
  const isBot = S.data && m.user === S.data.bot.id;
  const ctx = { kind: o.ephemeral ? "ephemeral" : "message", channel: o.channel, ts: m.ts };
  const content = m.blocks && m.blocks.length ? renderBlocks(m.blocks, ctx) : `<div class="b-text">${mrkdwn(m.text)}</div>`;
  const sender = o.ephemeral ? m.sender : m.user;
  const badge = sender === (S.data && S.data.bot.id) || sender === "USLACKBOT" ? '<span class="app-badge">APP</span>' : "";
  const replies = !o.inThread && m.reply_count
    ? `<button type="button" class="replies" data-thread="${esc(m.ts)}">${avatar(m.reply_users ? m.reply_users[m.reply_users.length - 1] : m.user, "avatar-xs")}<span class="replies-count">${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}</span><span class="replies-last">Last reply ${esc(timeOf(m.latest_reply))}</span></button>`
    : "";
  const eph = o.ephemeral
    ? `<div class="eph-label"><svg class="eye" viewBox="0 0 20 20" aria-hidden="true"><path d="M10 4C5.5 4 2.3 7.6 1.2 10c1.1 2.4 4.3 6 8.8 6s7.7-3.6 8.8-6C17.7 7.6 14.5 4 10 4zm0 10a4 4 0 1 1 0-8 4 4 0 0 1 0 8zm0-6a2 2 0 1 0 0 4 2 2 0 0 0 0-4z"/></svg> Only visible to you <button type="button" class="link-btn" data-dismiss="${esc(m.ts)}" data-channel="${esc(m.channel)}">Dismiss</button></div>`
    : "";
  const broadcast = m.subtype === "thread_broadcast" && !o.inThread ? '<div class="broadcast">replied to a thread</div>' : "";
  const cls = ["msg", o.ephemeral ? "msg-ephemeral" : "", S.highlight === m.ts ? "msg-highlight" : "", isBot ? "msg-bot" : ""].join(" ");
  return `<div class="${cls}" data-ts="${esc(m.ts)}" data-testid="${o.ephemeral ? "ephemeral" : "message"}">
    ${eph}
    <div class="msg-row">
      ${avatar(sender)}
      <div class="msg-body">
        <div class="msg-meta"><span class="msg-name">${esc(realName(sender))}</span>${badge}<time title="${esc(m.ts)}">${esc(timeOf(m.ts))}</time>${m.edited ? '<span class="edited">(edited)</span>' : ""}</div>
        ${broadcast}
        <div class="msg-content">${content}</div>
        ${replies}
      </div>
    </div>
  </div>`;
}

function currentChannel() {
  return S.data && S.data.channels.find((c) => c.id === S.channel);
}

function canAct(channel) {
  return !channel || !channel.is_im || channel.user === S.user;
}

function renderMessages() {
  const box = $("messages");
  const ch = currentChannel();
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const msgs = ch ? ch.messages : [];
  const ephs = ((S.data.ephemeral[S.user] || []).filter((e) => e.channel === S.channel && !e.thread_ts));
  const items = [
    ...msgs.map((m) => ({ ts: m.ts, html: renderMessage(m, { channel: S.channel }) })),
    ...ephs.map((e) => ({ ts: e.ts, html: renderMessage(e, { channel: S.channel, ephemeral: true }) })),
  ].sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
  const intro = `<div class="channel-intro"><h2>${esc(channelTitle())}</h2><p>${ch && ch.is_im ? `This is the very beginning of ${ch.user === S.user ? "your" : `${esc(userName(ch.user))}'s`} direct message history with ${esc(S.data.bot.real_name)}.` : `This is the very beginning of the <b>${esc(channelTitle())}</b> channel.`}</p></div>`;
  box.innerHTML = intro + items.map((i) => i.html).join("");
  if (atBottom || S.scrollNext) box.scrollTop = box.scrollHeight;
  S.scrollNext = false;
  if (S.highlight) {
    const el = box.querySelector(`[data-ts="${CSS.escape(S.highlight)}"]`);
    if (el) el.scrollIntoView({ block: "center" });
  }
}

function channelTitle() {
  const ch = currentChannel();
  if (!ch) return S.channel && S.channel.startsWith("D") ? S.data.bot.real_name : "";
  if (ch.is_im) return ch.user === S.user ? S.data.bot.real_name : `${S.data.bot.real_name} ↔ ${userName(ch.user)}`;
  return `#${ch.name}`;
}

function renderThread() {
  const pane = $("thread-pane");
  const ch = currentChannel();
  const parent = S.thread && ch && ch.messages.find((m) => m.ts === S.thread);
  if (!parent) {
    pane.hidden = true;
    $("thread-messages").innerHTML = "";
    return;
  }
  pane.hidden = false;
  $("thread-channel").textContent = channelTitle();
  const ephs = (S.data.ephemeral[S.user] || []).filter((e) => e.channel === S.channel && e.thread_ts === S.thread);
  const replies = [
    ...parent.replies.map((m) => ({ ts: m.ts, html: renderMessage(m, { channel: S.channel, inThread: true }) })),
    ...ephs.map((e) => ({ ts: e.ts, html: renderMessage(e, { channel: S.channel, inThread: true, ephemeral: true }) })),
  ].sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
  const count = parent.replies.length;
  $("thread-messages").innerHTML = renderMessage(parent, { channel: S.channel, inThread: true })
    + `<div class="thread-divider"><span>${count} ${count === 1 ? "reply" : "replies"}</span></div>`
    + replies.map((r) => r.html).join("");
}

// ---- sidebar -------------------------------------------------------------------------------

function unread(ch) {
  const count = ch.messages.length;
  return ch.id !== S.channel && count > (S.seen[ch.id] || 0);
}

function navItem(ch, label, prefix) {
  const active = ch.id === S.channel && !S.home ? " active" : "";
  const bold = unread(ch) ? " unread" : "";
  return `<li><a href="#channel=${esc(ch.id)}" class="nav-item${active}${bold}" data-channel="${esc(ch.id)}"><span class="nav-prefix" aria-hidden="true">${prefix}</span><span>${esc(label)}</span></a></li>`;
}

function renderSidebar() {
  const d = S.data;
  $("team-name").textContent = d.team.name;
  const select = $("user-select");
  const options = d.users.map((u) => `<option value="${esc(u.id)}">${esc(u.name)} — ${esc(u.real_name)}</option>`).join("");
  if (select.dataset.options !== options) {
    select.innerHTML = options;
    select.dataset.options = options;
  }
  select.value = S.user;
  $("acting-avatar").outerHTML = avatar(S.user, "avatar-sm").replace("<span ", '<span id="acting-avatar" ');
  $("channel-list").innerHTML = d.channels.filter((c) => !c.is_im).map((c) => navItem(c, c.name, c.is_private ? "🔒" : "#")).join("");
  const mine = d.channels.find((c) => c.id === dmOf(S.user)) || { id: dmOf(S.user), messages: [], is_im: true, user: S.user };
  $("dm-list").innerHTML = navItem(mine, d.bot.real_name, avatar(d.bot.id, "avatar-xs"));
  const homeActive = S.home ? " active" : "";
  $("app-list").innerHTML = `<li><a href="#home" class="nav-item${homeActive}" data-home="1" data-testid="home-tab"><span class="nav-prefix" aria-hidden="true">🏠</span><span>App Home</span></a></li>`;
  const others = d.channels.filter((c) => c.is_im && c.user !== S.user);
  $("other-dm-title").hidden = others.length === 0;
  $("other-dm-list").innerHTML = others.map((c) => navItem(c, `${d.bot.real_name} ↔ ${userName(c.user)}`, avatar(c.user, "avatar-xs"))).join("");
}

function renderHeader() {
  const ch = currentChannel();
  $("channel-title").textContent = channelTitle();
  $("channel-topic").textContent = ch && ch.topic ? ch.topic : ch && ch.is_im ? "App · direct message" : "";
  const note = $("readonly-note");
  note.hidden = canAct(ch);
  if (!note.hidden) note.textContent = `You are looking at ${userName(ch.user)}'s DM with ${S.data.bot.real_name} (sandbox view). Act as ${userName(ch.user)} to use it.`;
  const input = $("composer-input");
  input.disabled = !canAct(ch);
  document.querySelector("#composer .send").disabled = !canAct(ch);
  input.placeholder = ch && ch.is_im ? `Message ${S.data.bot.real_name}` : `Message ${channelTitle()}`;
}

// ---- the App Home tab ----------------------------------------------------------------------

function renderHome() {
  const d = S.data;
  const home = (d.homes || {})[S.user];
  $("channel-title").textContent = `${d.bot.real_name} · Home`;
  $("channel-topic").textContent = "App · Home tab";
  $("readonly-note").hidden = true;
  $("composer").hidden = true;
  $("thread-pane").hidden = true;
  const box = $("messages");
  box.innerHTML = home
    ? `<div class="home-view" data-testid="home-view">${renderBlocks(home.blocks, { kind: "view", view_id: home.id })}</div>`
    : `<div class="channel-intro"><h2>${esc(d.bot.real_name)}</h2><p>${esc(d.bot.real_name)} has not published a Home tab for ${esc(userName(S.user))} yet.</p></div>`;
}

async function openHome() {
  // Opening the tab is what tells the app (app_home_opened); it publishes the view lazily,
  // and the long poll draws it when it lands.
  reportBot(await api("/_emulator/home", { user: S.user }), "opening its Home");
}

function goHome() {
  S.home = true;
  S.thread = null;
  history.replaceState(null, "", "#home");
  if (S.data) apply(S.data);
  openHome();
}

// ---- modals --------------------------------------------------------------------------------

function renderModal() {
  const root = $("modal-root");
  const stack = S.data.views[S.user] || [];
  const top = stack[stack.length - 1];
  const key = top ? JSON.stringify([S.user, top.id, top.hash, top.errors, top.alert, stack.length]) : null;
  if (key === S.modalKey) return;
  S.modalKey = key;
  if (!top) {
    root.innerHTML = "";
    return;
  }
  const ctx = { kind: "view", view_id: top.id, errors: top.errors, state: (top.view.state || {}).values };
  root.innerHTML = `<div class="overlay">
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title" data-view-id="${esc(top.id)}">
      <header class="modal-header">
        ${avatar(S.data.bot.id, "avatar-sm")}
        <h2 id="modal-title">${esc(top.title || "")}</h2>
        <button type="button" class="icon-btn" data-modal-close aria-label="Close">×</button>
      </header>
      ${top.alert ? `<div class="modal-alert" role="alert">${esc(top.alert)}</div>` : ""}
      <form class="modal-body" id="modal-form" novalidate>${renderBlocks(top.blocks, ctx)}</form>
      <footer class="modal-footer">
        <button type="button" class="btn" data-modal-close>${esc(top.close || "Cancel")}</button>
        ${top.submit ? `<button type="submit" form="modal-form" class="btn btn-primary" data-modal-submit>${esc(top.submit)}</button>` : ""}
      </footer>
    </div>
  </div>`;
  const first = root.querySelector(".modal-body textarea, .modal-body input, .modal-body select");
  if (first) first.focus();
}

function showConfirm(conf) {
  return new Promise((resolve) => {
    const layer = document.createElement("div");
    layer.className = "overlay overlay-top";
    layer.innerHTML = `<div class="modal modal-confirm" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title">
      <header class="modal-header"><h2 id="confirm-title">${esc(plainText(conf.title) || "Are you sure?")}</h2></header>
      <div class="modal-body">${textObj(conf.text)}</div>
      <footer class="modal-footer">
        <button type="button" class="btn" data-answer="no">${esc(plainText(conf.deny) || "Cancel")}</button>
        <button type="button" class="btn ${conf.style === "danger" ? "btn-danger" : "btn-primary"}" data-answer="yes">${esc(plainText(conf.confirm) || "Yes")}</button>
      </footer></div>`;
    layer.addEventListener("click", (ev) => {
      const b = ev.target.closest("[data-answer]");
      if (!b) return;
      layer.remove();
      resolve(b.dataset.answer === "yes");
    });
    document.body.appendChild(layer);
  });
}

// ---- talking to the emulator ---------------------------------------------------------------

async function api(path, body) {
  const res = await fetch(path, {
    method: body ? "POST" : "GET",
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({ ok: false, error: `HTTP ${res.status}` }));
  if (!res.ok || data.ok === false) {
    toast(`${data.error || "error"}${data.detail ? `: ${data.detail}` : ""}`, "error");
    return null;
  }
  return data;
}

function reportBot(result, what) {
  if (!result || result.status === 200 || result.sent === false) return;
  const why = result.error || `HTTP ${result.status}`;
  toast(`${S.data.bot.real_name} didn't respond to ${what} (${why}${result.status ? `, HTTP ${result.status}` : ""})`, "error");
}

function toast(text, kind) {
  const t = document.createElement("div");
  t.className = `toast ${kind || ""}`;
  t.setAttribute("role", "status");
  t.textContent = text;
  $("toasts").appendChild(t);
  setTimeout(() => t.remove(), 6000);
}

function apply(data) {
  S.data = data;
  S.version = data.version;
  const named = data.users.find((u) => u.name === S.user);
  if (named) S.user = named.id;
  if (!S.user || !data.users.some((u) => u.id === S.user)) S.user = data.users[0] && data.users[0].id;
  if (!S.channel) S.channel = (data.channels.find((c) => !c.is_im) || {}).id || dmOf(S.user);
  const ch = currentChannel();
  if (ch) S.seen[ch.id] = ch.messages.length;
  localStorage.setItem("slack-emulator-seen", JSON.stringify(S.seen));
  renderSidebar();
  if (S.home) {
    renderHome();
  } else {
    $("composer").hidden = false;
    renderHeader();
    renderMessages();
    renderThread();
  }
  renderModal();
}

async function poll() {
  // The first request after load (or after a reconnect) asks without waiting, so the page says
  // "Live" at once; a long poll on a quiet workspace would only answer after `wait` seconds.
  let wait = 0;
  for (;;) {
    try {
      const url = S.version == null ? "/_emulator/state" : `/_emulator/state?since=${S.version}&wait=${wait}`;
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const data = await res.json();
      setLive(true);
      wait = 25;
      if (data.version !== S.version) apply(data);
    } catch (e) {
      setLive(false);
      wait = 0;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function setLive(ok) {
  $("live-dot").classList.toggle("off", !ok);
  $("live-text").textContent = ok ? "Live" : "Reconnecting…";
}

// ---- events --------------------------------------------------------------------------------

function goChannel(id) {
  S.home = false;
  S.channel = id;
  S.thread = null;
  S.highlight = null;
  S.scrollNext = true;
  history.replaceState(null, "", `#channel=${encodeURIComponent(id)}`);
  if (S.data) apply(S.data);
}

async function clickElement(el, value) {
  const body = { user: S.user, action_id: el.dataset.actionId, block_id: el.dataset.blockId };
  if (value !== undefined) body.value = value;
  if (el.dataset.viewId) {
    body.view_id = el.dataset.viewId;
    body.values = collectValues($("modal-root"));
  } else {
    body.channel = el.dataset.channel;
    body.ts = el.dataset.ts;
  }
  const conf = el.dataset.confirm && JSON.parse(el.dataset.confirm);
  if (conf && !(await showConfirm(conf))) return;
  if (el.dataset.url) window.open(el.dataset.url, "_blank", "noopener");
  el.disabled = true;
  el.classList.add("busy");
  try {
    reportBot(await api("/_emulator/click", body), "that click");
  } finally {
    el.disabled = false;
    el.classList.remove("busy");
  }
}

document.addEventListener("click", async (ev) => {
  if (ev.target.closest("[data-home].nav-item")) {
    ev.preventDefault();
    goHome();
    return;
  }
  const nav = ev.target.closest("[data-channel].nav-item");
  if (nav) {
    ev.preventDefault();
    goChannel(nav.dataset.channel);
    return;
  }
  const button = ev.target.closest("button[data-action-id]");
  if (button) {
    clickElement(button);
    return;
  }
  const thread = ev.target.closest("[data-thread]");
  if (thread) {
    S.thread = thread.dataset.thread;
    renderThread();
    $("thread-input").focus();
    return;
  }
  const dismiss = ev.target.closest("[data-dismiss]");
  if (dismiss) {
    await api("/_emulator/dismiss", { user: S.user, channel: dismiss.dataset.channel, ts: dismiss.dataset.dismiss });
    return;
  }
  if (ev.target.closest("[data-modal-close]")) {
    const stack = S.data.views[S.user] || [];
    const top = stack[stack.length - 1];
    if (top) reportBot(await api("/_emulator/close", { user: S.user, view_id: top.id }), "closing the modal");
  }
});

document.addEventListener("change", (ev) => {
  const select = ev.target.closest("select[data-action-id]");
  if (select && select.value) clickElement(select, select.value);
});

document.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  if (form.id === "modal-form") {
    const view = form.closest("[data-view-id]").dataset.viewId;
    const btn = document.querySelector("[data-modal-submit]");
    if (btn) btn.disabled = true;
    try {
      const result = await api("/_emulator/submit", { user: S.user, view_id: view, values: collectValues(form) });
      reportBot(result, "the form");
    } finally {
      if (btn) btn.disabled = false;
    }
  } else if (form.id === "composer") {
    const input = $("composer-input");
    const text = input.value.trim();
    if (!text) return;
    const channel = S.channel;
    let result;
    if (text.startsWith("/")) {
      const [command, ...rest] = text.split(" ");
      result = await api("/_emulator/command", { user: S.user, channel, command, text: rest.join(" ") });
      reportBot(result, command);
    } else {
      result = await api("/_emulator/post", { user: S.user, channel, text });
    }
    if (result) input.value = "";
    S.scrollNext = true;
  } else if (form.id === "thread-composer") {
    const input = $("thread-input");
    const text = input.value.trim();
    if (!text || !S.thread) return;
    const result = await api("/_emulator/post", { user: S.user, channel: S.channel, text, thread_ts: S.thread });
    if (result) input.value = "";
  }
});

$("user-select").addEventListener("change", (ev) => {
  S.user = ev.target.value;
  localStorage.setItem("slack-emulator-user", S.user);
  S.modalKey = null;
  const ch = currentChannel();
  if (S.channel && S.channel.startsWith("D") && (!ch || ch.user !== S.user)) S.channel = dmOf(S.user);
  if (S.data) apply(S.data);
  if (S.home) openHome();
});

$("thread-close").addEventListener("click", () => {
  S.thread = null;
  renderThread();
});

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  S.home = params.has("home");
  if (params.get("channel")) S.channel = params.get("channel");
  if (params.get("user")) S.user = params.get("user");
  S.highlight = params.get("ts");
  if (S.highlight && S.data) {
    const ch = currentChannel();
    const parent = ch && ch.messages.find((m) => m.replies.some((r) => r.ts === S.highlight));
    if (parent) S.thread = parent.ts;
  }
}

window.addEventListener("hashchange", () => {
  readHash();
  if (S.data) apply(S.data);
});

readHash();
try {
  const initial = JSON.parse($("initial-state").textContent);
  if (initial && initial.ok) apply(initial);
} catch (e) {
  /* served without a first state: the poll below fetches it */
}
if (S.home) openHome();
poll();
