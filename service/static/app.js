// papersift: stars, read marks, my keywords, keyboard shortcuts, theme. State lives in localStorage;
// a signed-in reader's library is also kept in the account (see syncLibrary).
"use strict";
const store = {
  get(key, fallback) { try { return JSON.parse(localStorage.getItem("papersift." + key)) ?? fallback; } catch { return fallback; } },
  set(key, value) { localStorage.setItem("papersift." + key, JSON.stringify(value)); },
};
const stars = () => store.get("stars", {});          // id → {title, starred_at}
const readMarks = () => store.get("read", {});       // id → true
const notInterested = () => store.get("not_interested", []);

// Signed in (the page has <meta name="papersift-account">), every change is also sent to the account
// (/api/v1/me) and every page load takes the account's library into this browser. The first load on
// a browser after signing in sends this browser's library first: a union, nothing is lost.
const accountId = document.querySelector('meta[name="papersift-account"]')?.content;
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content;

async function accountCall(method, path, body) {
  if (!accountId) return null;
  try {
    const response = await fetch("/api/v1/me" + path, {
      method, keepalive: true, body: body === undefined ? undefined : JSON.stringify(body),
      headers: { "content-type": "application/json", "x-csrf-token": csrfToken },
    });
    return response.ok && response.status !== 204 ? await response.json() : null;
  } catch { return null; }
}
const markPath = (kind, id) => `/marks/${kind}/${encodeURIComponent(id)}`;
const localLibrary = () => ({ stars: stars(), read: readMarks(), not_interested: notInterested(), keywords: store.get("keywords", []) });

async function syncLibrary() {
  if (!accountId) { localStorage.removeItem("papersift.synced_account"); return; }
  const first = store.get("synced_account", null) !== accountId;
  const library = first ? await accountCall("POST", "/library/merge", localLibrary()) : await accountCall("GET", "/library");
  if (!library) return;
  store.set("stars", library.stars); store.set("read", library.read);
  store.set("not_interested", library.not_interested); store.set("keywords", library.keywords);
  store.set("synced_account", accountId);
}

function setTheme(theme) { document.documentElement.dataset.theme = theme; store.set("theme", theme); }
setTheme(store.get("theme", "auto"));

function refreshStars(root = document) {
  const starred = stars();
  root.querySelectorAll(".paper").forEach((card) => {
    const button = card.querySelector(".star");
    const on = Boolean(starred[card.dataset.id]);
    if (button) { button.textContent = on ? "★" : "☆"; button.setAttribute("aria-pressed", on); }
    card.classList.toggle("read", Boolean(readMarks()[card.dataset.id]) && !card.classList.contains("paper-page"));
  });
  const count = document.getElementById("star-count");
  if (count) count.textContent = Object.keys(starred).length || "";
}

function toggleStar(card) {
  const all = stars();
  const id = card.dataset.id;
  if (all[id]) { delete all[id]; accountCall("DELETE", markPath("star", id)); } else {
    all[id] = { title: card.querySelector(".title, h1")?.textContent.trim() || id, starred_at: new Date().toISOString() };
    accountCall("PUT", markPath("star", id), { title: all[id].title });
  }
  store.set("stars", all);
  refreshStars();
}

function highlightKeywords(root = document) {
  const words = store.get("keywords", []).filter((w) => w.length > 1);
  if (!words.length) return;
  const pattern = new RegExp("\\b(" + words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|") + ")", "gi");
  root.querySelectorAll(".paper .title, .paper .abstract").forEach((element) => {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach((node) => {
      if (!pattern.test(node.nodeValue) || node.parentElement.closest("mark, math")) return;
      pattern.lastIndex = 0;
      const fragment = document.createDocumentFragment();
      let last = 0;
      node.nodeValue.replace(pattern, (match, _word, offset) => {
        fragment.append(node.nodeValue.slice(last, offset));
        const mark = document.createElement("mark");
        mark.className = "mine";
        mark.textContent = match;
        fragment.append(mark);
        last = offset + match.length;
      });
      fragment.append(node.nodeValue.slice(last));
      node.replaceWith(fragment);
    });
  });
}

function paperCard(paper) {
  // Built with DOM APIs (textContent), never innerHTML: titles are user-controlled strings.
  const card = document.createElement("article");
  card.className = "paper";
  card.dataset.id = paper.id;
  const head = document.createElement("div");
  head.className = "paper-head";
  const star = document.createElement("button");
  star.className = "star"; star.type = "button"; star.textContent = "☆";
  const title = document.createElement("h3");
  const link = document.createElement("a");
  link.className = "title"; link.href = "/paper/" + paper.id; link.textContent = paper.title;
  title.append(link); head.append(star, title);
  const authors = document.createElement("p");
  authors.className = "authors"; authors.textContent = (paper.authors || []).slice(0, 8).join(", ");
  card.append(head, authors);
  return card;
}

async function renderStarsPage() {
  const starredBox = document.getElementById("starred");
  if (!starredBox) return;
  const ids = Object.keys(stars());
  document.getElementById("starred-count").textContent = ids.length ? `(${ids.length})` : "";
  if (ids.length) {
    starredBox.replaceChildren();
    for (const id of ids) {
      const response = await fetch("/api/v1/papers/" + id);
      starredBox.append(response.ok ? paperCard(await response.json()) : paperCard({ id, title: stars()[id].title, authors: [] }));
    }
  }
  const box = document.getElementById("recommended");
  if (!ids.length) return;
  const response = await fetch("/api/v1/recommend", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ positive: ids.slice(-200), negative: notInterested().slice(-200), limit: 20 }),
  });
  if (!response.ok) { box.textContent = "Recommendations are unavailable right now."; return; }
  box.replaceChildren();
  for (const paper of (await response.json()).results) {
    const card = paperCard(paper);
    const no = document.createElement("button");
    no.type = "button"; no.className = "not-interested"; no.textContent = "Not interested";
    no.addEventListener("click", () => {
      store.set("not_interested", [...notInterested(), paper.id]);
      accountCall("PUT", markPath("not_interested", paper.id));
      card.remove();
    });
    card.append(no);
    box.append(card);
  }
  refreshStars(); highlightKeywords();
}

function download(name, type, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  link.click();
  const pre = document.getElementById("export");
  if (pre) { pre.textContent = text; pre.hidden = false; }
}

async function exportBibtex() {
  const entries = [];
  for (const id of Object.keys(stars())) {
    const response = await fetch("/api/v1/papers/" + id + "/bibtex");
    if (response.ok) entries.push(await response.text());
  }
  download("papersift-stars.bib", "application/x-bibtex", entries.join("\n\n") + "\n");
}

async function importStars(ids) {
  const all = stars();
  ids.forEach((id) => { if (id && !all[id]) all[id] = { title: id, starred_at: new Date().toISOString() }; });
  store.set("stars", all);
  await accountCall("POST", "/library/merge", localLibrary());
  renderStarsPage(); refreshStars();
}

function fillKeywordsForm() {
  const form = document.getElementById("keywords-form");
  if (form) form.keywords.value = store.get("keywords", []).join(", ");
}

function normalizeId(raw) {
  const text = raw.trim().replace(/^https?:\/\/arxiv\.org\/(abs|pdf)\//, "").replace(/v\d+$/, "").replace(/\.pdf$/, "");
  if (!text) return null;
  return text.includes(":") ? text : "arxiv:" + text;
}

document.addEventListener("DOMContentLoaded", () => {
  refreshStars(); highlightKeywords();
  syncLibrary().then(() => { refreshStars(); highlightKeywords(); renderStarsPage(); fillKeywordsForm(); });
  document.getElementById("theme")?.addEventListener("click", () => {
    const order = ["auto", "light", "dark"];
    setTheme(order[(order.indexOf(store.get("theme", "auto")) + 1) % order.length]);
  });
  document.addEventListener("click", (event) => {
    const star = event.target.closest(".star");
    if (star) toggleStar(star.closest(".paper"));
    const copy = event.target.closest(".copy");
    if (copy) navigator.clipboard?.writeText(document.getElementById(copy.dataset.target).value);
    const title = event.target.closest(".paper .title");
    if (title) {
      const id = title.closest(".paper").dataset.id, all = readMarks();
      all[id] = true; store.set("read", all);
      accountCall("PUT", markPath("read", id));
    }
  });
  document.getElementById("export-json")?.addEventListener("click", () =>
    download("papersift-stars.json", "application/json",
             JSON.stringify({ stars: stars(), read: readMarks(), keywords: store.get("keywords", []), not_interested: notInterested() }, null, 2)));
  document.getElementById("export-bibtex")?.addEventListener("click", exportBibtex);
  document.getElementById("import-file")?.addEventListener("change", async (event) => {
    const data = JSON.parse(await event.target.files[0].text());
    store.set("stars", { ...stars(), ...(data.stars || {}) });
    if (data.keywords) store.set("keywords", data.keywords);
    await accountCall("POST", "/library/merge", localLibrary());
    renderStarsPage(); refreshStars();
  });
  // A pasted text too long for a URL (servers cap URLs near 64 KB) is posted instead.
  document.querySelector("form.searchbar")?.addEventListener("submit", (event) => {
    const form = event.target;
    form.method = encodeURIComponent(form.q.value).length > 8000 ? "post" : "get";
  });
  document.getElementById("import-ids")?.addEventListener("submit", (event) => {
    event.preventDefault();
    importStars(event.target.ids.value.split(/[\s,]+/).map(normalizeId).filter(Boolean));
    event.target.ids.value = "";
  });
  const keywordsForm = document.getElementById("keywords-form");
  if (keywordsForm) {
    fillKeywordsForm();
    keywordsForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      store.set("keywords", keywordsForm.keywords.value.split(",").map((w) => w.trim()).filter(Boolean));
      await accountCall("PUT", "/keywords", { keywords: store.get("keywords", []) });
      location.reload();
    });
  }
  const filter = document.getElementById("filter");
  filter?.addEventListener("input", () => {
    const needle = filter.value.toLowerCase();
    document.querySelectorAll(".paper").forEach((card) => { card.hidden = needle && !card.textContent.toLowerCase().includes(needle); });
  });
  let focused = -1;
  document.addEventListener("keydown", (event) => {
    if (event.target.matches("input, textarea") || event.metaKey || event.ctrlKey || event.altKey) return;
    const cards = [...document.querySelectorAll(".paper:not([hidden])")];
    if (event.key === "/") { event.preventDefault(); document.getElementById("q")?.focus(); return; }
    if (event.key === "j" || event.key === "k") {
      focused = Math.max(0, Math.min(cards.length - 1, focused + (event.key === "j" ? 1 : -1)));
      cards.forEach((card, i) => card.classList.toggle("focused", i === focused));
      cards[focused]?.scrollIntoView({ block: "nearest" });
    }
    if (event.key === "s" && cards[focused]) toggleStar(cards[focused]);
    if (event.key === "o" && cards[focused]) cards[focused].querySelector(".title")?.click();
  });
});

// Paper FAQ and translation (service/api/llm.py). The answer streams in as server-sent events, read
// with fetch (EventSource cannot show why a request was refused: 429, budget spent, model down).
// Model output is untrusted text: it is drawn as DOM nodes with textContent, never as HTML.
function appendInline(element, text) {
  for (const part of text.split(/(\*\*[^*]+\*\*|`[^`]+`)/)) {
    if (!part) continue;
    const bold = part.startsWith("**") && part.endsWith("**") && part.length > 4;
    const code = part.startsWith("`") && part.endsWith("`") && part.length > 2;
    if (bold || code) {
      const node = document.createElement(bold ? "strong" : "code");
      node.textContent = bold ? part.slice(2, -2) : part.slice(1, -1);
      element.append(node);
    } else element.append(document.createTextNode(part));
  }
}

function renderMarkdown(box, text) {
  // A safe subset: paragraphs, `**Q: …**` question lines, headings, - and 1. lists, **bold**, `code`.
  const nodes = [];
  let list = null, paragraph = [];
  const add = (tag, line, className) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    appendInline(node, line);
    return node;
  };
  const flush = () => { if (paragraph.length) nodes.push(add("p", paragraph.join(" "))); paragraph = []; };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const item = line.match(/^(?:[-*•]|\d+[.)])\s+(.*)$/);
    const heading = line.match(/^#{1,6}\s+(.*)$/);
    if (!line) { flush(); list = null; } else if (item && !/^\*\*/.test(line)) {
      flush();
      if (!list) { list = document.createElement(/^\d/.test(line) ? "ol" : "ul"); nodes.push(list); }
      list.append(add("li", item[1]));
    } else if (heading || /^\*\*[^*]+\*\*:?$/.test(line)) {
      flush(); list = null;
      nodes.push(add("h3", heading ? heading[1] : line.replace(/^\*\*|\*\*:?$/g, ""), "question"));
    } else { list = null; paragraph.push(line); }
  }
  flush();
  box.replaceChildren(...nodes);
}

const sentence = (text) => (text ? text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".") : "");
const errorText = (error) => [sentence(error.message), sentence(error.hint)].filter(Boolean).join(" ");

async function streamAnswer(url, handlers) {
  // Resolves to {ok: true, created_at} or {ok: false, message}.
  let response;
  try { response = await fetch(url, { headers: { accept: "text/event-stream" } }); } catch {
    return { ok: false, message: "The connection failed. Try again." };
  }
  if (!response.ok) {
    try { return { ok: false, message: errorText((await response.json()).error) }; } catch {
      return { ok: false, message: `The language model is unavailable (HTTP ${response.status}).` };
    }
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { ok: false, message: "The answer was cut off. Try again." };
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (!data) continue;
      const payload = JSON.parse(data);
      if (name === "done" || name === "failure") {
        reader.cancel();
        return name === "done" ? { ok: true, ...payload } : { ok: false, message: errorText(payload) };
      }
      handlers[name]?.(payload);
    }
  }
}

function setupAssistant() {
  const box = document.getElementById("assistant");
  if (!box) return;
  const status = document.getElementById("assistant-status");
  const note = document.getElementById("assistant-note");
  const select = document.getElementById("translate-language");
  select.value = store.get("language", box.dataset.language);
  if (!select.value) select.value = box.dataset.language;
  select.addEventListener("change", () => store.set("language", select.value));
  const say = (text, isError = false) => { status.textContent = text; status.hidden = !text; status.classList.toggle("error", isError); };

  async function ask(button, target, url) {
    button.disabled = true;
    target.hidden = false;
    target.replaceChildren();
    say("Asking the language model…");
    let text = "", scheduled = false;
    const draw = () => { scheduled = false; renderMarkdown(target, text); };
    const result = await streamAnswer(url, {
      meta: (meta) => {
        note.textContent = `${meta.stored ? "Stored answer" : "Written just now"} by ${meta.model} ` +
          `(prompt v${meta.prompt_version}), from ${meta.note}.`;
        note.hidden = false;
        say(meta.stored ? "" : "Writing…");
      },
      status: (payload) => say(payload.message),
      delta: (payload) => { text += payload.text; if (!scheduled) { scheduled = true; requestAnimationFrame(draw); } },
    });
    draw();
    if (result.ok) say("");
    else { say(result.message, true); target.hidden = !text; note.hidden = !text; }
    button.disabled = false;
  }

  const id = box.dataset.paper;
  document.getElementById("faq-button").addEventListener("click", (event) =>
    ask(event.currentTarget, document.getElementById("faq"), `/api/v1/papers/${id}/faq/stream`));
  document.getElementById("translate-button").addEventListener("click", (event) => {
    const target = document.getElementById("translation");
    target.lang = select.value;
    ask(event.currentTarget, target, `/api/v1/papers/${id}/translation/stream?lang=${encodeURIComponent(select.value)}`);
  });
}

document.addEventListener("DOMContentLoaded", setupAssistant);
