// Compose: Cc and Bcc (shown on demand), and attachments uploaded as soon as they are chosen
// (POST /api/v1/attachments) so that sending only names them. ComposeExtras.payload(form)
// gives compose.js what to add to the send; null while an upload is still running.
"use strict";

window.ComposeExtras = (() => {
  const form = document.querySelector("[data-compose]");
  if (!form) return null;
  const LIMIT = 25000000;  // mailboxes/port.py MAX_ATTACHMENTS_BYTES
  const list = form.querySelector("[data-attachments]");
  const input = form.querySelector("[data-attach-input]");
  const toggle = form.querySelector("[data-copies-toggle]");
  const copies = form.querySelector("[data-copies]");
  let uploading = 0;

  toggle.addEventListener("click", () => {
    copies.hidden = !copies.hidden;
    toggle.setAttribute("aria-expanded", String(!copies.hidden));
    if (!copies.hidden) copies.querySelector("input").focus();
  });

  const addresses = (el) => el.value.split(/[,;\s]+/).map((a) => a.trim()).filter(Boolean);
  const total = () => [...list.querySelectorAll("[data-size]")].reduce((n, li) => n + Number(li.dataset.size), 0);
  const kb = (n) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`);
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  function item(file) {
    const li = document.createElement("li");
    li.className = "attachment";
    li.innerHTML = '<span class="name"></span> <span class="muted small" data-state></span> <button type="button" class="link small" data-remove>Remove</button>';
    li.querySelector(".name").textContent = file.name;
    li.querySelector("[data-state]").textContent = `${kb(file.size)} · uploading…`;
    li.querySelector("[data-remove]").setAttribute("aria-label", `Remove ${file.name}`);
    list.append(li);
    return li;
  }

  async function upload(file) {
    const errSlot = form.querySelector('.err[data-field="file"]');
    errSlot.textContent = "";
    if (total() + file.size > LIMIT) {
      errSlot.textContent = `${file.name}: the attachments would add up to more than 25 MB.`;
      return;
    }
    const li = item(file);
    li.dataset.pending = "";
    uploading += 1;
    const data = new FormData();
    data.append("file", file, file.name);
    let res, body = null;
    try {
      res = await fetch("/api/v1/attachments", { method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": csrf() } });
      body = await res.json().catch(() => null);
    } catch (e) { res = { ok: false, status: 0 }; }
    uploading -= 1;
    delete li.dataset.pending;
    if (!res.ok) {
      li.remove();
      errSlot.textContent = `${file.name}: ${(body && body.errors && body.errors[0].message) || "the upload failed"}`;
      return;
    }
    li.dataset.attachmentId = body.id;
    li.dataset.size = body.size;
    li.querySelector("[data-state]").textContent = kb(body.size);
  }

  input.addEventListener("change", () => {
    [...input.files].forEach(upload);
    input.value = "";
  });
  list.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("[data-remove]");
    if (!btn) return;
    const li = btn.closest("li");
    if (li.dataset.attachmentId) await App.api("DELETE", `/api/v1/attachments/${li.dataset.attachmentId}`);
    li.remove();
  });

  return {
    payload() {
      if (uploading > 0) return null;
      const out = {};
      const cc = addresses(form.querySelector("[data-cc]"));
      const bcc = addresses(form.querySelector("[data-bcc]"));
      if (cc.length) out.cc = cc;
      if (bcc.length) out.bcc = bcc;
      const ids = [...list.querySelectorAll("[data-attachment-id]")].map((li) => Number(li.dataset.attachmentId));
      if (ids.length) out.attachment_ids = ids;
      return out;
    },
  };
})();
