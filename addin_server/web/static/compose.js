// Compose window: edit, replace every {{! prompt }}, then Send now or Schedule (a time in the
// rep's zone). One click sends once: the buttons lock at the first click, and the server's
// send is idempotent per task.
"use strict";

(() => {
  const form = document.querySelector("[data-compose]");
  const card = document.querySelector("[data-task-card]");
  const root = form || card;
  if (!root) return;
  const taskId = root.dataset.task;

  // A call task is done with its outcome and a note (both go to Salesforce and the report).
  const call = root.querySelector("[data-call-outcome]");

  async function finish(action) {
    let body;
    if (call && action === "complete") {
      const chosen = call.querySelector("input[name=outcome]:checked");
      if (!chosen) { App.toast("Choose how the call went first", true); return; }
      body = { outcome: chosen.value, note: call.querySelector("textarea").value };
    }
    root.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    const res = await App.finishTask(taskId, action, body);
    if (!res.ok) {
      root.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      App.toast((res.data && res.data.errors && res.data.errors[0].message) || "That did not work", true);
      return;
    }
    App.toast(action === "complete" ? "Done" : "Skipped");
    setTimeout(() => { window.location.href = root.dataset.nextUrl; }, 500);
  }
  root.addEventListener("click", (ev) => {
    const btn = ev.target.closest("[data-action]");
    if (btn) finish(btn.dataset.action);
  });
  if (!form) return;

  const subject = form.querySelector("#subject");
  const body = form.querySelector("[data-body]");
  const warning = form.querySelector("[data-prompts]");
  const PROMPT = /\{\{\s*!([^}]*)\}\}/g;

  function prompts() {
    return [...(subject.value + "\n" + body.innerText).matchAll(PROMPT)].map((m) => m[1].trim());
  }
  function refresh() {
    const left = prompts();
    warning.hidden = left.length === 0;
    const listEl = warning.querySelector("[data-prompt-list]");
    listEl.replaceChildren(...left.map((p) => { const c = document.createElement("code"); c.textContent = `{{! ${p} }}`; return c; }));
    if (!left.length) form.querySelector('.err[data-field="body_html"]').textContent = "";
    return left;
  }
  subject.addEventListener("input", refresh);
  body.addEventListener("input", refresh);

  // Select the first prompt so that typing replaces it.
  function selectFirstPrompt() {
    const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const at = node.data.indexOf("{{");
      if (at >= 0 && /^\{\{\s*!/.test(node.data.slice(at))) {
        const end = node.data.indexOf("}}", at);
        if (end < 0) continue;
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, end + 2);
        body.focus();
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        return true;
      }
    }
    return false;
  }

  const buttons = () => form.querySelectorAll("[data-send], [data-schedule-send], [data-schedule-toggle], [data-action]");
  let sending = false;

  async function send(sendAt) {
    if (sending) return;  // a double click: the first click owns the send
    App.clearErrors(form);
    const left = refresh();
    if (left.length) {
      App.showErrors(form, [{ field: "body_html", message: `Replace ${left.length === 1 ? "the prompt" : "the " + left.length + " prompts"} first` }]);
      selectFirstPrompt();
      return;
    }
    sending = true;
    buttons().forEach((b) => { b.disabled = true; });
    // Cc, Bcc and attachments (compose-extras.js); an upload still running holds the send.
    const extras = window.ComposeExtras ? window.ComposeExtras.payload(form) : {};
    if (extras === null) {
      sending = false;
      buttons().forEach((b) => { b.disabled = false; });
      App.showErrors(form, [{ field: "attachment_ids", message: "Wait for the attachments to finish uploading" }]);
      return;
    }
    const payload = { subject: subject.value, body_html: body.innerHTML, ...extras };
    if (sendAt) payload.send_at = sendAt;
    const res = await App.api("POST", `/api/v1/tasks/${taskId}/send`, payload);
    if (!res.ok) {
      sending = false;
      buttons().forEach((b) => { b.disabled = false; });
      const errors = (res.data && res.data.errors) || [{ field: "", message: `error ${res.status}` }];
      if (res.status === 404 && !res.data) errors[0].message = "Sending from the web app is not available on this server yet.";
      App.showErrors(form, errors);
      return;
    }
    App.refreshBadge();
    body.contentEditable = "false";
    subject.readOnly = true;
    // The time as typed (the rep's zone), in the product's date style: "Wed, 25 Nov at 09:30".
    const when = sendAt ? `Scheduled for ${App.day(form.querySelector("[data-send-date]").value)} at ${form.querySelector("[data-send-time]").value}` : "Sent";
    const note = document.createElement("div");
    note.className = "notice ok";
    note.setAttribute("role", "status");
    note.dataset.sentNote = "";
    note.innerHTML = `<strong></strong> <a href="${root.dataset.nextUrl}">Next task →</a>`;
    note.querySelector("strong").textContent = `${when}.`;
    form.prepend(note);
    App.toast(sendAt ? "Scheduled" : "Sent");
  }

  form.querySelector("[data-send]").addEventListener("click", () => send(null));
  form.querySelector("[data-schedule-toggle]").addEventListener("click", (ev) => {
    const box = form.querySelector("[data-schedule]");
    box.hidden = !box.hidden;
    ev.currentTarget.setAttribute("aria-expanded", String(!box.hidden));
    if (!box.hidden) box.querySelector("input").focus();
  });
  form.querySelector("[data-schedule-send]").addEventListener("click", () => {
    const d = form.querySelector("[data-send-date]").value;
    const t = form.querySelector("[data-send-time]").value;
    if (!d || !t) { App.showErrors(form, [{ field: "send_at", message: "Choose a date and a time" }]); return; }
    send(App.zonedToUtc(d, t, form.dataset.tz));
  });
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); send(null); }
  });
  refresh();
  if (!selectFirstPrompt()) body.focus();
})();
