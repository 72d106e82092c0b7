// Launch: people typed or from a CSV file (sent as text/csv, upload progress shown), the start
// date and first send time. The first submit is a dry run (the preview: columns of the file,
// when each step goes, warnings, rows left out); "Confirm launch" then launches for real and
// shows who was enrolled and who was skipped, and why.
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
    previewParams(params);
    return params;
  }

  // --- Preview (dry run) ----------------------------------------------------------------
  const preview = form.querySelector("[data-preview]");
  const COLUMNS = ["email", "first_name", "last_name", "company", "title", "timezone", "ignore"];
  let confirmed = false; // the next submit launches for real
  let columns = null; // the rep's column choices, header -> column (null: the server guesses)

  function previewParams(params) {
    params.set("skip_invalid", "true");
    if (form.querySelector("#check-mx").checked) params.set("check_mx", "true");
    if (!confirmed) params.set("dry_run", "true");
    if (columns && mode === "csv") params.set("columns", JSON.stringify(columns));
  }

  function unconfirm() { confirmed = false; preview.hidden = true; }
  form.addEventListener("input", (ev) => { if (!preview.contains(ev.target)) unconfirm(); });
  form.addEventListener("change", (ev) => {
    if (ev.target.id === "csv-file") columns = null;
    if (!preview.contains(ev.target)) unconfirm();
  });

  function rows(tbody, items, cells) {
    tbody.replaceChildren();
    for (const item of items) {
      const tr = document.createElement("tr");
      for (const cell of cells(item)) {
        const td = document.createElement("td");
        if (cell instanceof Node) td.append(cell); else td.textContent = cell;
        tr.append(td);
      }
      tbody.append(tr);
    }
  }

  function columnSelect(header, current) {
    const select = document.createElement("select");
    select.setAttribute("aria-label", `Read column ${header} as`);
    const choices = COLUMNS.includes(current) ? COLUMNS : [...COLUMNS, current];
    for (const c of choices) {
      const o = document.createElement("option");
      o.value = c;
      o.textContent = COLUMNS.includes(c) ? c.replace("_", " ") : `merge field {{${c}}}`;
      o.selected = c === current;
      select.append(o);
    }
    select.addEventListener("change", () => {
      columns = { ...columns, [header]: select.value };
      confirmed = false;
      form.requestSubmit(); // preview again with the rep's choice
    });
    return select;
  }

  function perDay(days) {
    return days.map((d) => `${App.day(d.date)}: ${d.count}`).join(", ");
  }

  // The organisation's bulk-sender meter (5,000 a day per primary domain to a consumer
  // provider's users): one line per day and provider the launch adds to.
  function showBulk(box, bulk) {
    box.replaceChildren();
    const days = bulk ? bulk.days : [];
    box.hidden = !days.length;
    for (const d of days) {
      const p = document.createElement("p");
      p.className = d.level === "ok" ? "muted small" : "notice warn small";
      p.dataset.level = d.level;
      let text = `${App.day(d.date)}: ${d.launch} to ${d.name} users from ${bulk.domain}`;
      if (d.before) text += ` (${d.before.toLocaleString()} already today)`;
      text += `: ${d.total.toLocaleString()} of the ${bulk.line.toLocaleString()} a day that make a bulk sender`;
      if (d.held) text += `; ${d.held} first emails would wait for the next day`;
      else if (d.level === "line") text += "; the organisation does not hold at the line";
      p.textContent = text;
      box.append(p);
    }
  }

  function showPreview(data) {
    const fc = data.forecast;
    preview.querySelector("[data-preview-title]").textContent =
      `Preview: ${data.enrollments.length} to enrol, ${data.skipped.length} skipped, ${data.invalid.length} rows left out`;
    const cols = data.columns || {};
    columns = { ...cols };
    preview.querySelector("[data-columns]").hidden = !Object.keys(cols).length;
    rows(preview.querySelector("[data-columns-body]"), Object.entries(cols),
      ([header, col]) => [header, columnSelect(header, col)]);
    rows(preview.querySelector("[data-forecast]"), fc.steps, (s) => [
      `${s.step} (${s.kind})`, s.first_local || "", s.last_local || "", perDay(s.days),
      Object.entries(s.moved_by).map(([rule, n]) => `${rule} ${n}`).join(", ")]);
    showBulk(preview.querySelector("[data-bulk]"), fc.bulk);
    preview.querySelector("[data-warnings-count]").textContent = data.warnings.length;
    rows(preview.querySelector("[data-warnings]"), data.warnings.slice(0, 500),
      (w) => [w.email, w.step ? String(w.step) : "", w.message]);
    preview.querySelector("[data-invalid-count]").textContent = data.invalid.length;
    rows(preview.querySelector("[data-invalid]"), data.invalid.slice(0, 500),
      (b) => [String(b.line), b.column, b.message]);
    preview.querySelector("[data-confirm-btn]").textContent = `Confirm launch (${data.enrollments.length})`;
    preview.hidden = false;
    preview.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  // --- Large launches: in the background, a bar with the count until it is done -----------
  async function followBackground(launchId) {
    const progress = form.querySelector("[data-progress]");
    const bar = form.querySelector("[data-bar]");
    const label = form.querySelector("[data-progress-text]");
    const btn = form.querySelector("[data-launch-btn]");
    confirmed = false;
    preview.hidden = true;
    progress.hidden = false;
    btn.disabled = true;
    for (;;) {
      const r = await fetch(`/api/v1/launches/${launchId}`, { headers: { Accept: "application/json" } });
      const st = r.ok ? await r.json() : { status: "failed", reason: `error ${r.status}` };
      bar.style.width = `${st.total ? Math.round((st.done / st.total) * 100) : 0}%`;
      label.textContent = `Enrolling ${(st.done || 0).toLocaleString()} of ${(st.total || 0).toLocaleString()}`;
      if (st.status === "done" || st.status === "failed") {
        progress.hidden = true;
        btn.disabled = false;
        if (st.status === "failed") { App.showErrors(form, [{ field: "", message: `The launch failed, nothing was saved: ${st.reason}` }]); return; }
        const results = form.querySelector("[data-results]");
        results.hidden = false;
        results.querySelector("[data-results-title]").textContent =
          `Launched: ${st.enrollments} enrolled, ${st.skipped} skipped`;
        results.querySelector("[data-enrolled-count]").textContent = st.enrollments;
        results.querySelector("[data-skipped-count]").textContent = st.skipped;
        results.querySelector("[data-enrolled]").replaceChildren();
        fill(results.querySelector("[data-skipped]"), st.result.skipped, (s) => [s.email, s.reason]);
        App.toast(`${st.enrollments} enrolled`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  preview.querySelector("[data-confirm-btn]").addEventListener("click", () => {
    confirmed = true;
    form.requestSubmit();
  });

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
      label.textContent = f < 1 ? `Uploading ${Math.round(f * 100)}%` : (confirmed ? "Enrolling…" : "Checking…");
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
      confirmed = false;
      App.showErrors(form, (res.data && res.data.errors) || [{ field: "", message: `error ${res.status}` }]);
      return;
    }
    if (res.data.dry_run) { showPreview(res.data); return; }
    if (res.status === 202) { await followBackground(res.data.launch_id); return; }
    confirmed = false;
    preview.hidden = true;
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
