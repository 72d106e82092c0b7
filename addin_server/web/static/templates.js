// The templates library: open one to edit (or only to read and preview, for a shared template
// a rep may not change), create, duplicate, delete (the server refuses while a live step uses
// it, naming them), preview for a chosen person. Every change goes through the REST API, then
// the page reloads so that the list is the server's.
"use strict";

(() => {
  const card = document.querySelector("[data-editor-card]");
  if (!card) return;
  const form = card.querySelector("[data-template-form]");
  const body = form.querySelector("[data-body]");
  const templates = JSON.parse(document.getElementById("templates-data").textContent).templates;
  let current = null;  // the template open, or null for a new one

  function open(t) {
    current = t;
    const readonly = !!t && !t.can_manage;
    form.elements.name.value = t ? t.name : "";
    form.elements.subject.value = t ? t.subject : "";
    body.innerHTML = t ? t.body_html : "";
    if (form.elements.shared) form.elements.shared.checked = !!(t && t.shared);
    for (const el of [form.elements.name, form.elements.subject]) el.readOnly = readonly;
    if (form.elements.shared) form.elements.shared.disabled = readonly;
    body.contentEditable = readonly ? "false" : "true";
    form.querySelector("[data-save-template]").hidden = readonly;
    form.querySelector("[data-readonly-note]").hidden = !readonly;
    card.querySelector("[data-editor-title]").textContent = t ? (readonly ? t.name : `Edit “${t.name}”`) : "New template";
    card.querySelector("[data-preview-box]").hidden = true;
    card.querySelector("[data-preview-note]").textContent = "";
    App.clearErrors(form);
    card.hidden = false;
    card.scrollIntoView({ block: "start" });
    form.elements.name.focus();
  }

  function errorsOf(res) {
    return ((res.data && res.data.errors) || []).map((e) => e.message).join(" · ") || "Something went wrong.";
  }

  document.addEventListener("click", async (event) => {
    const el = event.target.closest("[data-new-template], [data-open], [data-duplicate], [data-delete], [data-cancel], [data-insert], [data-preview]");
    if (!el) return;
    if (el.hasAttribute("data-new-template")) open(null);
    else if (el.dataset.open) open(templates.find((t) => String(t.id) === el.dataset.open));
    else if (el.hasAttribute("data-cancel")) { card.hidden = true; current = null; }
    else if (el.dataset.insert) {
      if (body.isContentEditable) { body.focus(); document.execCommand("insertText", false, el.dataset.insert); }
    } else if (el.hasAttribute("data-preview")) preview();
    else if (el.dataset.duplicate) {
      el.disabled = true;
      const res = await App.api("POST", `/api/v1/templates/${el.dataset.duplicate}/duplicate`);
      if (res.ok) window.location.reload();
      else { el.disabled = false; App.toast(errorsOf(res), true); }
    } else if (el.dataset.delete) {
      const t = templates.find((x) => String(x.id) === el.dataset.delete);
      if (!window.confirm(`Delete the template “${t ? t.name : ""}”?`)) return;
      el.disabled = true;
      const res = await App.api("DELETE", `/api/v1/templates/${el.dataset.delete}`);
      if (res.ok) window.location.reload();
      else { el.disabled = false; App.toast(`Not deleted: ${errorsOf(res)}`, true); }
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = { name: form.elements.name.value, subject: form.elements.subject.value, body_html: body.innerHTML };
    if (form.elements.shared) payload.shared = form.elements.shared.checked;
    const save = form.querySelector("[data-save-template]");
    save.disabled = true;
    const res = current
      ? await App.api("PATCH", `/api/v1/templates/${current.id}`, payload)
      : await App.api("POST", "/api/v1/templates", payload);
    save.disabled = false;
    if (!res.ok) { App.showErrors(form, res.data && res.data.errors); return; }
    window.location.reload();
  });

  async function preview() {
    const who = form.elements["pv-person"] || document.getElementById("pv-person");
    const request = { subject: form.elements.subject.value, body_html: body.innerHTML };
    if (who.value.trim()) request.person_email = who.value.trim();
    const res = await App.api("POST", "/api/v1/preview", request);
    const box = card.querySelector("[data-preview-box]");
    const note = card.querySelector("[data-preview-note]");
    if (!res.ok) { box.hidden = true; note.textContent = errorsOf(res); return; }
    const d = res.data;
    box.hidden = false;
    box.querySelector("[data-pv-subject]").textContent = d.subject;
    box.querySelector("iframe").srcdoc =
      `<!doctype html><meta charset="utf-8"><style>body{font:14px/1.5 system-ui,sans-serif;margin:12px;color:#1c2230}</style>${d.body_html}`;
    const notes = [];
    if (d.missing_fields.length) notes.push(`Missing for this person: ${d.missing_fields.join(", ")} (an automatic email would wait)`);
    if (d.prompts.length) notes.push(`${d.prompts.length} prompt(s) to replace when you send`);
    note.textContent = notes.join(" · ");
  }
})();
