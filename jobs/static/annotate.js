// mathmine annotate: keyboard review of the queue. Served as a file because the page's
// Content-Security-Policy allows no inline script; everything from the crawl is put into the page
// with textContent, never as HTML.
"use strict";

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const csrf = ($('meta[name="csrf-token"]') || {}).content || "";
  const page = document.body.dataset.page;
  const toast = $("#toast");
  const rows = $$("[data-nav-row]");
  const previews = new Map(); // section key -> the last preview shown for it
  let focused = -1;
  let pending = null; // a decision waiting for its key a second time (the preview warned)
  let typingTimer = null;

  let toastTimer = null;

  function say(text, kind) {
    if (!toast) return;
    toast.textContent = text;
    toast.className = kind || "";
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toast.textContent = ""; }, kind === "error" ? 12000 : 5000);
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  async function postJSON(url, data) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(data),
    });
    let body;
    try {
      body = await response.json();
    } catch (err) {
      body = { error: response.statusText };
    }
    return { ok: response.ok, status: response.status, body };
  }

  function detailOf(row) {
    const next = row && row.nextElementSibling;
    return next && next.classList.contains("detail") ? next : null;
  }

  function focusRow(i) {
    if (!rows.length) return;
    i = Math.max(0, Math.min(rows.length - 1, i));
    if (focused >= 0 && rows[focused]) {
      rows[focused].classList.remove("focused");
      rows[focused].removeAttribute("aria-current");
      const old = detailOf(rows[focused]);
      if (old && focused !== i) old.hidden = true;
    }
    focused = i;
    pending = null;
    const row = rows[i];
    row.classList.add("focused");
    row.setAttribute("aria-current", "true");
    const detail = detailOf(row);
    if (detail) {
      detail.hidden = false;
      loadPreview(row);
    }
    row.scrollIntoView({ block: "nearest" });
    if (detail) detail.scrollIntoView({ block: "nearest" });
  }

  // The next section still to decide (in the queue, no decision of yours), else the next row.
  function nextTodo(from) {
    for (let j = from + 1; j < rows.length; j++) {
      if (rows[j].dataset.open === "1" && !rows[j].dataset.decision) return j;
    }
    if (from + 1 < rows.length) return from + 1;
    say("last section of this domain: ] opens the next domain", "ok");
    return from;
  }

  function firstTodo() {
    const attr = page === "queue" ? "todo" : "open";
    const i = rows.findIndex((r) => r.dataset[attr] && r.dataset[attr] !== "0" && !r.dataset.decision);
    return i >= 0 ? i : 0;
  }

  // ------------------------------------------------------------------------------ the preview

  function patternOf(row) {
    const input = $(".pattern-input", detailOf(row));
    return input ? input.value.trim() : row.dataset.pattern;
  }

  async function loadPreview(row) {
    const detail = detailOf(row);
    if (!detail) return null;
    const box = $(".preview", detail);
    const pattern = patternOf(row);
    const query = new URLSearchParams({
      pattern, label: "math", host: row.dataset.host, prefix: row.dataset.prefix,
    });
    box.setAttribute("aria-busy", "true");
    let result;
    try {
      const response = await fetch("/api/preview?" + query.toString(), { credentials: "same-origin" });
      result = await response.json();
    } catch (err) {
      box.replaceChildren(el("p", "preview failed: " + err, "error"));
      return null;
    }
    box.removeAttribute("aria-busy");
    if (patternOf(row) !== pattern) return null; // typed on since: a newer preview is coming
    previews.set(row.dataset.key, result);
    renderPreview(box, result);
    return result;
  }

  function renderPreview(box, p) {
    const parts = [];
    if (p.lint && p.lint.length && p.matched === undefined) {
      parts.push(el("p", "lint rejects this pattern: " + p.lint.join("; "), "error"));
      box.replaceChildren(...parts);
      box.dataset.state = "bad";
      return;
    }
    const counts = el("p", null, "counts");
    const add = (label, value, field) => {
      const span = el("span", null, "count");
      span.dataset.field = field;
      span.append(el("b", value), " " + label);
      counts.append(span, " ");
    };
    add("pages matched", p.matched, "matched");
    add("recalled", p.recalled, "recalled");
    add("excluded by other lines", p.excluded, "excluded");
    add("added to the next seed (as math)", p.added, "added");
    parts.push(counts);
    if (p.section_pages !== null && p.section_pages !== undefined) {
      parts.push(el("p", `matches ${p.section_matched} of this section's ${p.section_pages} pages; ` +
        `as exclude it would take ${p.recalled} recalled page(s) out of the corpus`, "muted"));
    }
    const where = el("p", `written as ${p.where}` + (p.replaces ? ` (replaces your ${p.replaces})` : ""),
      "muted");
    parts.push(where);
    for (const line of p.lint || []) parts.push(el("p", "lint: " + line, "error"));
    for (const warning of p.warnings || []) parts.push(el("p", "warning: " + warning, "warn"));
    const mine = (p.overlaps || []).filter((o) => o.mine);
    if (mine.length) {
      const list = el("ul", null, "overlaps");
      for (const o of mine) list.append(el("li", `inside your line ${o.where}: ${o.pattern} (${o.label}), ${o.pages} page(s)`));
      parts.push(list);
    }
    box.replaceChildren(...parts);
    box.dataset.state = (p.lint && p.lint.length) ? "bad" : (p.warnings && p.warnings.length ? "warn" : "ok");
  }

  // ------------------------------------------------------------------------------ decisions

  function showDecision(row, label, line) {
    const cell = $(".decision", row);
    row.dataset.decision = label || "";
    if (!cell) return;
    cell.replaceChildren();
    if (label) {
      cell.append(el("span", label, "tag " + label.replace(" ", "-")));
      if (line) cell.append(" ", el("small", "line " + line));
    }
  }

  function applyCoverage(list) {
    if (!Array.isArray(list)) return;
    const byKey = new Map(list.map((c) => [c.key, c]));
    for (const row of rows) {
      const c = byKey.get(row.dataset.key);
      if (!c) continue;
      row.dataset.open = c.in_queue ? "1" : "0";
      row.classList.toggle("open", !!c.in_queue);
      row.classList.toggle("covered", !!c.covered);
      const cell = $(".coverage", row);
      if (cell) {
        cell.replaceChildren(c.covered ? el("span", "all " + c.pages, "tag ok")
          : el("span", c.matched ? `${c.matched} of ${c.pages}` : "–"));
      }
    }
  }

  async function decide(label) {
    const row = rows[focused];
    if (!row || !detailOf(row)) return;
    const pattern = patternOf(row);
    let shown = previews.get(row.dataset.key);
    if (!shown || shown.pattern !== pattern) shown = await loadPreview(row); // shown before it is saved
    if (!shown) return;
    if (label !== "not math" && shown.lint && shown.lint.length) {
      say("not written: lint rejects it: " + shown.lint[0], "error");
      return;
    }
    if (shown.warnings && shown.warnings.length && pending !== label) {
      pending = label;
      say(`${shown.warnings.length} warning(s) in the preview: press the key again to save as ${label}`, "warn");
      return;
    }
    pending = null;
    const r = await postJSON("/api/decide", {
      pattern, label, host: row.dataset.host, prefix: row.dataset.prefix,
    });
    if (!r.ok) {
      say(r.body.error || "not written", "error");
      return;
    }
    row.dataset.line = r.body.line;
    row.dataset.lineText = r.body.text;
    row.dataset.before = r.body.before || "";
    showDecision(row, label, r.body.line);
    applyCoverage(r.body.coverage);
    previews.delete(row.dataset.key);
    say(`${label}: line ${r.body.line} of ${r.body.file}`, "ok");
    focusRow(nextTodo(focused));
  }

  async function undo() {
    const row = rows[focused];
    if (!row) return;
    if (!row.dataset.line) {
      say("nothing of yours to undo on this section", "warn");
      return;
    }
    const before = row.dataset.before || null;
    const r = await postJSON("/api/undo", {
      line: Number(row.dataset.line), text: row.dataset.lineText, before, host: row.dataset.host,
    });
    if (!r.ok) {
      say(r.body.error || "undo failed", "error");
      return;
    }
    if (r.body.restored) {
      const text = r.body.restored;
      const label = text.startsWith("#") ? "not math" : text.split("\t")[1];
      row.dataset.lineText = text;
      row.dataset.before = "";
      showDecision(row, label, r.body.line);
    } else {
      row.dataset.line = "";
      row.dataset.lineText = "";
      showDecision(row, "", null);
    }
    applyCoverage(r.body.coverage);
    previews.delete(row.dataset.key);
    loadPreview(row);
    say(`undone: line ${r.body.line}` + (r.body.restored ? " restored" : " removed"), "ok");
  }

  function go(id) {
    const link = document.getElementById(id);
    if (link) window.location.assign(link.href);
  }

  function act(action) {
    if (action === "skip") focusRow(nextTodo(focused));
    else if (action === "undo") undo();
    else if (action === "help") toggleHelp();
    else decide(action);
  }

  function toggleHelp() {
    const help = $("#help");
    if (help) help.hidden = !help.hidden;
  }

  // ------------------------------------------------------------------------------ wiring

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const target = ev.target;
    const typing = target && ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
    if (typing) {
      if ((ev.key === "Escape" || ev.key === "Enter") && target.classList.contains("pattern-input")) {
        ev.preventDefault();
        target.blur();
        if (rows[focused]) loadPreview(rows[focused]);
      }
      return;
    }
    const onDomain = page === "domain";
    switch (ev.key) {
      case "j": case "ArrowDown": focusRow(focused + 1); break;
      case "k": case "ArrowUp": focusRow(focused - 1); break;
      case "Enter": case "o":
        if (page === "queue" && rows[focused]) window.location.assign(rows[focused].dataset.href);
        else return;
        break;
      case "m": if (!onDomain) return; decide("math"); break;
      case "n": if (!onDomain) return; decide("not math"); break;
      case "x": if (!onDomain) return; decide("exclude"); break;
      case "s": if (!onDomain) return; focusRow(nextTodo(focused)); break;
      case "u": if (!onDomain) return; undo(); break;
      case "e": {
        const input = rows[focused] && $(".pattern-input", detailOf(rows[focused]));
        if (!input) return;
        input.focus();
        input.select();
        break;
      }
      case "]": go("next-domain"); break;
      case "[": go("prev-domain"); break;
      case "/": {
        const filter = $("#host-filter");
        if (!filter) return;
        filter.focus();
        break;
      }
      case "?": toggleHelp(); break;
      default: return;
    }
    ev.preventDefault();
  });

  for (const [i, row] of rows.entries()) {
    row.addEventListener("click", (ev) => {
      if (ev.target.closest("a, button, input")) return;
      focusRow(i);
    });
    const detail = detailOf(row);
    if (!detail) continue;
    for (const button of $$("button[data-action]", detail)) {
      button.addEventListener("click", () => {
        if (focused !== i) focusRow(i);
        act(button.dataset.action);
      });
    }
    const input = $(".pattern-input", detail);
    if (input) {
      input.addEventListener("input", () => {
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => loadPreview(row), 250);
      });
    }
  }
  for (const button of $$("header button[data-action]")) {
    button.addEventListener("click", () => act(button.dataset.action));
  }

  if (rows.length) focusRow(firstTodo());
})();
