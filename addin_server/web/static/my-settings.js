// The rep's settings: the signature (saved with PATCH /api/v1/me/signature, previewed with its
// merge fields filled for a sample person) and their snippets (/api/v1/snippets).
"use strict";

(() => {
  const sigForm = document.querySelector("[data-signature-form]");
  if (!sigForm) return;
  const editor = sigForm.querySelector("[data-signature-editor]");
  const preview = sigForm.querySelector("[data-signature-preview]");
  const status = sigForm.querySelector("[data-signature-status]");
  const SAMPLE = { email: "sample@example.com", first_name: "Sam", last_name: "Sample", company: "Example Ltd" };
  let timer = null;

  function showPreview(html) {
    const box = document.createElement("div");
    box.className = "signature";
    box.innerHTML = html;  // rendered and sanitised by the server
    preview.replaceChildren(box);
  }
  async function refreshPreview() {
    const res = await App.api("POST", "/api/v1/preview", { body_html: editor.innerHTML, person: SAMPLE });
    if (res.ok) { App.clearErrors(sigForm); showPreview(res.data.body_html); }
    else App.showErrors(sigForm, res.data && res.data.errors);
  }
  editor.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refreshPreview, 400); });
  sigForm.querySelector("[data-signature-save]").addEventListener("click", async () => {
    const res = await App.api("PATCH", "/api/v1/me/signature", { signature_html: editor.innerHTML });
    if (!res.ok) { App.showErrors(sigForm, res.data && res.data.errors); return; }
    App.clearErrors(sigForm);
    editor.innerHTML = res.data.signature_html;
    status.textContent = "Saved.";
    App.toast("Signature saved");
    refreshPreview();
  });
  if (editor.innerHTML.trim()) refreshPreview();

  // Snippets: one form, for a new one or the one being edited.
  const snipForm = document.querySelector("[data-snippets-form]");
  const list = snipForm.querySelector("[data-snippet-list]");
  const nameIn = snipForm.querySelector("[data-snippet-name-input]");
  const bodyIn = snipForm.querySelector("[data-snippet-editor]");
  const sharedIn = snipForm.querySelector("[data-snippet-shared]");
  const cancel = snipForm.querySelector("[data-snippet-cancel]");
  const title = snipForm.querySelector("[data-snippet-form-title]");
  let editing = null;

  function reset() {
    editing = null;
    nameIn.value = ""; bodyIn.innerHTML = ""; sharedIn.checked = false;
    cancel.hidden = true; title.textContent = "New snippet";
    App.clearErrors(snipForm);
  }
  cancel.addEventListener("click", reset);
  list.addEventListener("click", async (ev) => {
    const edit = ev.target.closest("[data-edit-snippet]");
    const del = ev.target.closest("[data-delete-snippet]");
    if (edit) {
      const res = await App.api("GET", `/api/v1/snippets/${edit.dataset.editSnippet}`);
      if (!res.ok) return;
      editing = res.data.id;
      nameIn.value = res.data.name; bodyIn.innerHTML = res.data.body_html; sharedIn.checked = res.data.shared;
      cancel.hidden = false; title.textContent = `Edit “${res.data.name}”`;
      nameIn.focus();
    } else if (del) {
      const li = del.closest("li");
      if (!window.confirm(`Delete the snippet “${li.querySelector("[data-snippet-name]").textContent}”?`)) return;
      const res = await App.api("DELETE", `/api/v1/snippets/${del.dataset.deleteSnippet}`);
      if (res.ok) { li.remove(); App.toast("Snippet deleted"); }
      else App.toast((res.data && res.data.errors && res.data.errors[0].message) || "That did not work", true);
    }
  });
  snipForm.querySelector("[data-snippet-save]").addEventListener("click", async () => {
    const body = { name: nameIn.value, body_html: bodyIn.innerHTML, shared: sharedIn.checked };
    const res = editing
      ? await App.api("PATCH", `/api/v1/snippets/${editing}`, body)
      : await App.api("POST", "/api/v1/snippets", body);
    if (!res.ok) { App.showErrors(snipForm, res.data && res.data.errors); return; }
    App.toast("Snippet saved");
    window.location.reload();  // the list is rendered by the server, with who may change what
  });
})();
