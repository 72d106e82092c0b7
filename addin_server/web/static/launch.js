// Launch: people typed or from a CSV file (sent as text/csv, upload progress shown), the start
// date and first send time; then who was enrolled and who was skipped, and why.
"use strict";

(() => {
  const form = document.querySelector("[data-launch]");
  if (!form) return;
  const tz = form.dataset.tz;
  const HEADER = "email,first_name,last_name,company,title\n";
  let mode = "hand";

  form.querySelectorAll("[data-seg]").forEach((tab) => tab.addEventListener("click", () => {
    mode = tab.dataset.seg;
    form.querySelectorAll("[data-seg]").forEach((t) => t.setAttribute("aria-selected", String(t === tab)));
    form.querySelectorAll("[data-pane]").forEach((p) => { p.hidden = p.dataset.pane !== mode; });
  }));

  const fileInput = form.querySelector("#csv-file");
  const info = form.querySelector("[data-csv-info]");
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    if (!file) { info.textContent = ""; return; }
    const text = await file.text();
    const rows = text.split(/\r?\n/).filter((l) => l.trim()).length - 1;
    info.textContent = `${file.name}: ${rows.toLocaleString()} ${rows === 1 ? "person" : "people"}, ${file.size < 10240 ? file.size + " bytes" : Math.round(file.size / 1024).toLocaleString() + " KB"}`;
  });

  async function body() {
    if (mode === "csv") {
      const file = fileInput.files[0];
      if (!file) return { error: { field: "csv", message: "Choose a CSV file" } };
      return { blob: file };
    }
    const lines = form.querySelector("#people-text").value.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    if (!lines.length) return { error: { field: "csv", message: "Add at least one person (an email address per line)" } };
    return { blob: new Blob([HEADER + lines.join("\n") + "\n"], { type: "text/csv" }) };
  }

  function query() {
    const params = new URLSearchParams();
    const start = form.querySelector("#start-date").value;
    if (start) params.set("start_date", start);
    const time = form.querySelector("#first-time");
    if (time && time.value) params.set("first_send_at", App.zonedToUtc(start, time.value, tz));
    return params;
  }

  /** POST the CSV with XMLHttpRequest: fetch cannot report upload progress. */
  function upload(blob, params, onProgress) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/api/v1/campaigns/${form.dataset.campaign}/launch?${params}`);
      xhr.setRequestHeader("Content-Type", "text/csv");
      xhr.setRequestHeader("X-CSRFToken", document.querySelector('meta[name="csrf-token"]').content);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.upload.onload = () => onProgress(1);
      xhr.onload = () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, data });
      };
      xhr.onerror = () => resolve({ ok: false, status: 0, data: { errors: [{ field: "", message: "The upload failed; check your connection." }] } });
      xhr.send(blob);
    });
  }

  function fill(tbody, rows, cells) {
    tbody.replaceChildren();
    const shown = rows.slice(0, 500);
    for (const r of shown) {
      const tr = document.createElement("tr");
      for (const text of cells(r)) { const td = document.createElement("td"); td.textContent = text; tr.append(td); }
      tbody.append(tr);
    }
    if (rows.length > shown.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 2; td.className = "muted"; td.textContent = `and ${rows.length - shown.length} more`;
      tr.append(td); tbody.append(tr);
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    App.clearErrors(form);
    const time = form.querySelector("#first-time");
    if (time && time.required && !time.value) {
      App.showErrors(form, [{ field: "first_send_at", message: "Choose the time of the first email" }]);
      return;
    }
    const b = await body();
    if (b.error) { App.showErrors(form, [b.error]); return; }
    const btn = form.querySelector("[data-launch-btn]");
    const progress = form.querySelector("[data-progress]");
    const bar = form.querySelector("[data-bar]");
    const label = form.querySelector("[data-progress-text]");
    btn.disabled = true;
    progress.hidden = false;
    const params = query();
    const onProgress = (f) => {
      bar.style.width = `${Math.round(f * 100)}%`;
      label.textContent = f < 1 ? `Uploading ${Math.round(f * 100)}%` : "Enrolling…";
    };
    let res = await upload(b.blob, params, onProgress);
    // The server (its clock is the one that counts) refuses a first-email time already past:
    // say that every first email would go now, and send them now only if the rep confirms.
    const past = !res.ok && res.status === 422 && ((res.data && res.data.errors) || [])
      .find((e) => e.field === "first_send_at" && /send_past_now/.test(e.message));
    if (past && window.confirm(`${past.message.replace(/\. Pick a later time.*$/, ".")}\n\nSend the first emails now?`)) {
      params.set("send_past_now", "true");
      res = await upload(b.blob, params, onProgress);
    } else if (past) {
      res = { ok: false, status: 422, data: { errors: [{ field: "first_send_at", message: past.message.replace(/, or send send_past_now.*$/, ".") }] } };
    }
    btn.disabled = false;
    progress.hidden = true;
    if (!res.ok) {
      App.showErrors(form, (res.data && res.data.errors) || [{ field: "", message: `error ${res.status}` }]);
      return;
    }
    const results = form.querySelector("[data-results]");
    const { enrollments, skipped } = res.data;
    results.hidden = false;
    results.querySelector("[data-results-title]").textContent =
      `Launched: ${enrollments.length} enrolled, ${skipped.length} skipped`;
    results.querySelector("[data-enrolled-count]").textContent = enrollments.length;
    results.querySelector("[data-skipped-count]").textContent = skipped.length;
    fill(results.querySelector("[data-enrolled]"), enrollments, (e) => [e.email, e.status]);
    fill(results.querySelector("[data-skipped]"), skipped, (s) => [s.email, s.reason]);
    results.scrollIntoView({ behavior: "smooth", block: "start" });
    App.toast(`${enrollments.length} enrolled`);
  });
})();
