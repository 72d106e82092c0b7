// Suppressions and blocked domains: add one or many (pasted, one a line, or a CSV file) through
// the bulk API, which adds nothing unless every line is good and names each bad one; remove.
// The page reloads after a change so that the list is the server's.
"use strict";

(() => {
  const form = document.querySelector("[data-bulk-form]");
  if (!form) return;
  const kind = form.dataset.kind;
  const base = kind === "domain" ? "/api/v1/blocked-domains" : "/api/v1/suppressions";
  const lineErrors = form.querySelector("[data-line-errors]");

  function showLineErrors(errors) {
    lineErrors.replaceChildren(...errors.map((e) => {
      const li = document.createElement("li");
      li.textContent = `${e.field.replace(/^csv /, "")}: ${e.message}`;
      return li;
    }));
    lineErrors.hidden = errors.length === 0;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    App.clearErrors(form);
    showLineErrors([]);
    const file = form.elements.csv_file.files[0];
    const payload = { note: form.elements.note.value };
    // A pasted list is a one-column CSV without a header: "csv line 4" is its fourth line.
    payload.csv = file ? await file.text() : form.elements.entries.value;
    if (!payload.csv.trim()) { App.toast("Paste at least one line, or choose a CSV file.", true); return; }
    const button = form.querySelector("[data-add]");
    button.disabled = true;
    const res = await App.api("POST", `${base}/bulk`, payload);
    button.disabled = false;
    if (!res.ok) {
      const errors = (res.data && res.data.errors) || [];
      showLineErrors(errors);
      App.toast(`Nothing added: ${errors.length} line${errors.length === 1 ? "" : "s"} to fix.`, true);
      return;
    }
    window.location.reload();
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-remove]");
    if (!button) return;
    if (!window.confirm(`Remove ${button.dataset.remove}? Campaigns may email it again.`)) return;
    button.disabled = true;
    const res = await App.api("DELETE", `${base}/${encodeURIComponent(button.dataset.remove)}`);
    if (!res.ok) {
      button.disabled = false;
      App.toast(((res.data && res.data.errors) || []).map((e) => e.message).join(" · ") || "Could not remove it.", true);
      return;
    }
    window.location.reload();
  });
})();
