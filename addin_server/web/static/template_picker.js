// "Insert template": a select that lists the templates the rep may use (their own and the
// shared ones) and inserts the chosen one, rendered for the person, into an editor. A module of
// its own, so that any compose window can carry one: put on the select
//   data-template-picker  data-editor="<selector of the contenteditable>"
//   data-subject="<selector of the subject input>" (filled when empty)  data-person="<email>"
// Prompts ({{! ...}}) are kept for the rep to replace; the editor's input event fires, so the
// page's own checks (prompt warnings) see the change.
"use strict";

(() => {
  const pickers = document.querySelectorAll("[data-template-picker]");
  if (!pickers.length) return;

  async function fill(select) {
    const res = await App.api("GET", "/api/v1/templates");
    if (!res.ok) return;
    for (const t of res.data.templates) {
      select.add(new Option(t.shared ? `${t.name} (shared)` : t.name, String(t.id)));
    }
  }

  async function insert(select) {
    const editor = document.querySelector(select.dataset.editor);
    const subject = select.dataset.subject ? document.querySelector(select.dataset.subject) : null;
    const request = { template_id: +select.value };
    if (select.dataset.person) request.person_email = select.dataset.person;
    select.disabled = true;
    const res = await App.api("POST", "/api/v1/preview", request);
    select.disabled = false;
    select.value = "";
    if (!res.ok) {
      App.toast(((res.data && res.data.errors) || []).map((e) => e.message).join(" · ") || "Could not insert it.", true);
      return;
    }
    if (res.data.missing_fields.length) App.toast(`Fill in by hand: ${res.data.missing_fields.join(", ")}`, true);
    if (subject && !subject.readOnly && !subject.value.trim() && res.data.subject) {
      subject.value = res.data.subject;
      subject.dispatchEvent(new Event("input", { bubbles: true }));
    }
    editor.focus();
    const sel = window.getSelection();
    if (!sel.rangeCount || !editor.contains(sel.anchorNode)) {
      // No caret in the editor: the template goes first, above anything quoted.
      const range = document.createRange();
      range.setStart(editor, 0);
      range.collapse(true);
      sel.removeAllRanges();
      sel.addRange(range);
    }
    document.execCommand("insertHTML", false, res.data.body_html);
    editor.dispatchEvent(new Event("input", { bubbles: true }));
  }

  for (const select of pickers) {
    fill(select);
    select.addEventListener("change", () => { if (select.value) insert(select); });
  }
})();
