// Compose: the snippet picker. Lists the rep's snippets and the organisation's shared ones
// (GET /api/v1/snippets) and inserts the chosen one where the caret was in the body; its merge
// fields are filled when the email is sent, like the rest of the body.
"use strict";

(() => {
  const picker = document.querySelector("[data-snippet-picker]");
  const body = document.querySelector("[data-compose] [data-body]");
  if (!picker || !body) return;
  const select = picker.querySelector("[data-snippet-choice]");
  let snippets = [];
  let saved = null;  // the caret in the body when it was last there

  document.addEventListener("selectionchange", () => {
    const sel = window.getSelection();
    if (sel.rangeCount && body.contains(sel.getRangeAt(0).commonAncestorContainer)) saved = sel.getRangeAt(0).cloneRange();
  });

  function insert(html) {
    let range = saved;
    // The caret in the signature or the quoted email (a click in the editor's empty space
    // below the text puts it at the end of the signature): the snippet goes above them.
    const fenced = (r) => [r.startContainer, r.endContainer].some((n) =>
      (n.nodeType === Node.ELEMENT_NODE ? n : n.parentElement).closest(".gmail_quote, .signature"));
    if (!range || !body.contains(range.commonAncestorContainer) || fenced(range)) {
      range = document.createRange();
      const quote = body.querySelector(".gmail_quote, .signature");
      if (quote) range.setStartBefore(quote); else { range.selectNodeContents(body); range.collapse(false); }
    }
    range.deleteContents();
    const fragment = range.createContextualFragment(html);
    const last = fragment.lastChild;
    range.insertNode(fragment);
    if (last) {
      range.setStartAfter(last);
      range.collapse(true);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
    body.dispatchEvent(new Event("input", { bubbles: true }));
    body.focus();
  }

  select.addEventListener("change", () => {
    const chosen = snippets.find((s) => String(s.id) === select.value);
    select.value = "";
    if (chosen) insert(chosen.body_html);
  });

  App.api("GET", "/api/v1/snippets").then((res) => {
    if (!res.ok) return;
    snippets = res.data.snippets;
    for (const s of snippets) {
      const opt = document.createElement("option");
      opt.value = s.id;
      opt.textContent = s.shared && !s.mine ? `${s.name} (shared)` : s.name;
      select.append(opt);
    }
    if (!snippets.length) select.options[0].textContent = "No snippets yet";
    select.disabled = snippets.length === 0;
  });
})();
