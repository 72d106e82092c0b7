// Command Center: one-click Done/Skip, a keyboard flow through the tasks (j/k, Enter, d, s),
// bulk pause/resume/stop of selected people, and "why" for each person's steps.
"use strict";

(() => {
  const rows = () => [...document.querySelectorAll(".task-row:not(.done)")];
  let current = null;

  function select(row, focus = true) {
    if (current) current.classList.remove("selected");
    current = row || null;
    if (!current) return;
    current.classList.add("selected");
    if (focus) current.focus({ preventScroll: false });
  }

  function move(step) {
    const list = rows();
    if (!list.length) return;
    const i = current ? list.indexOf(current) : -1;
    select(list[Math.max(0, Math.min(list.length - 1, i + step))] || list[0]);
  }

  async function finish(row, action) {
    // A call is done with its outcome and a note: the task's page asks for them.
    if (action === "complete" && row.dataset.type === "call") { window.location.href = row.dataset.open; return; }
    const buttons = row.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    const res = await App.finishTask(row.dataset.taskId, action);
    if (!res.ok) {
      buttons.forEach((b) => { b.disabled = false; });
      App.toast((res.data && res.data.errors && res.data.errors[0].message) || "That did not work", true);
      return;
    }
    const list = rows();
    const next = list[list.indexOf(row) + 1] || list[list.indexOf(row) - 1];
    row.classList.add("done");
    row.setAttribute("aria-disabled", "true");
    App.toast(action === "complete" ? "Done. Next task selected." : "Skipped. Next task selected.");
    setTimeout(() => {
      const bucket = row.closest(".bucket");
      row.remove();
      const count = bucket && bucket.querySelector("h2 .count");
      if (count) count.textContent = bucket.querySelectorAll(".task-row").length;
    }, 600);
    select(next);
  }

  document.addEventListener("click", (ev) => {
    const btn = ev.target.closest(".task-row [data-action]");
    if (btn) { ev.preventDefault(); finish(btn.closest(".task-row"), btn.dataset.action); return; }
    const row = ev.target.closest(".task-row");
    if (row && !ev.target.closest("a, button")) select(row);
  });

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const typing = ev.target.closest("input, textarea, select, [contenteditable]");
    if (ev.key === "/" && !typing) { ev.preventDefault(); document.getElementById("q").focus(); return; }
    if (ev.key === "Escape" && typing) { ev.target.blur(); return; }
    if (typing || !document.querySelector("[data-tasks]")) return;
    const row = current && document.contains(current) ? current : null;
    if (ev.key === "j" || ev.key === "ArrowDown") { ev.preventDefault(); move(1); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { ev.preventDefault(); move(-1); }
    else if ((ev.key === "Enter" || ev.key === "o") && row && !ev.target.closest("a, button")) {
      ev.preventDefault(); window.location.href = row.dataset.open;
    } else if (ev.key === "d" && row) { ev.preventDefault(); finish(row, "complete"); }
    else if (ev.key === "s" && row) { ev.preventDefault(); finish(row, "skip"); }
  });

  document.addEventListener("focusin", (ev) => {
    const row = ev.target.closest(".task-row");
    if (row && row !== current) select(row, false);
  });

  // First task selected on load so that the keyboard flow starts at once.
  document.addEventListener("DOMContentLoaded", () => { const first = rows()[0]; if (first) select(first, false); });

  // --- selection and bulk actions ---------------------------------------------------------
  // A selection is the boxes ticked on this page, or "all N matching": then the server applies
  // the list's own filter (data-filter), so the action covers every row of every page.
  const bar = document.querySelector("[data-bulkbar]");
  const boxes = () => [...document.querySelectorAll("[data-select-table] tbody input[data-enrollment]")];
  const chosen = () => [...new Set(boxes().filter((b) => b.checked).map((b) => b.dataset.enrollment))];
  const total = bar ? Number(bar.dataset.total || 0) : 0;
  let allMatching = false;
  const plural = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

  function refreshBar() {
    if (!bar) return;
    const ids = chosen();
    const pageAll = boxes().length > 0 && boxes().every((b) => b.checked);
    if (!pageAll) allMatching = false;
    bar.hidden = ids.length === 0;
    bar.querySelector("[data-bulk-count]").textContent = allMatching
      ? `All ${total.toLocaleString()} matching ${bar.dataset.noun} selected`
      : `${plural(ids.length, "person", "people")} selected${pageAll && total > boxes().length ? " on this page" : ""}`;
    bar.querySelector("[data-select-matching]").hidden = !pageAll || allMatching || total <= boxes().length;
    bar.querySelector("[data-clear-selection]").hidden = !allMatching;
    boxes().forEach((b) => b.closest("tr").classList.toggle("selected", b.checked));
  }

  function selectPage(checked) {
    boxes().forEach((b) => { b.checked = checked; });
    const all = document.querySelector("[data-select-all]");
    if (all) all.checked = checked;
  }

  document.addEventListener("change", (ev) => {
    if (ev.target.matches("[data-select-all]")) selectPage(ev.target.checked);
    if (ev.target.matches("[data-select-all], input[data-enrollment]")) refreshBar();
  });

  if (bar) bar.addEventListener("click", async (ev) => {
    if (ev.target.closest("[data-select-matching]")) { selectPage(true); allMatching = true; refreshBar(); return; }
    if (ev.target.closest("[data-clear-selection]")) { allMatching = false; selectPage(false); refreshBar(); return; }
    const btn = ev.target.closest("[data-bulk]");
    if (!btn) return;
    const action = btn.dataset.bulk;
    const ids = chosen();
    const whom = allMatching ? `all ${total.toLocaleString()} matching ${bar.dataset.noun === "emails" ? "emails' people" : "people"}` : plural(ids.length, "person", "people");
    if (action === "stop" && !confirm(`Stop the campaign for ${whom}? Their pending emails and tasks are cancelled.`)) return;
    bar.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    // One request for the whole selection (one transaction on the server).
    const body = allMatching ? { action, filter: JSON.parse(bar.dataset.filter) } : { action, ids: ids.map(Number) };
    const res = await App.api("POST", "/api/v1/enrollments/bulk", body);
    let done = 0;
    const failed = [];
    if (res.ok) {
      done = res.data.changed.length;
      for (const c of res.data.changed) {
        document.querySelectorAll(`[data-row-enrollment="${c.id}"] [data-status]`).forEach((el) => {
          el.textContent = c.status; el.className = `state state-${c.status}`;
        });
      }
      failed.push(...res.data.unchanged.map((u) => u.message));
    } else failed.push((res.data && res.data.errors && res.data.errors[0].message) || `error ${res.status}`);
    bar.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    const verb = { pause: "Paused", resume: "Resumed", stop: "Stopped" }[action];
    const of = res.ok ? res.data.matched : (allMatching ? total : ids.length);
    const notChanged = res.ok ? failed.length : of;
    const summary = `${verb} ${done.toLocaleString()}` + (allMatching ? ` of ${of.toLocaleString()} matching` : "") + ".";
    bar.querySelector("[data-bulk-result]").textContent =
      summary + (failed.length ? ` ${notChanged.toLocaleString()} not changed: ${[...new Set(failed)].join("; ")}` : "");
    App.toast(allMatching ? summary : `${verb} ${done.toLocaleString()} of ${of.toLocaleString()}.`, failed.length > 0);
  });

  // A campaign chosen in the filter shows its people (or emails) at once.
  const campaignFilter = document.querySelector("[data-campaign-filter] select");
  if (campaignFilter) campaignFilter.addEventListener("change", () => campaignFilter.form.submit());

  // --- why: each step of a person with its state and reason --------------------------------
  document.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("[data-details]");
    if (!btn) return;
    const tr = btn.closest("tr");
    const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains("drawer-row");
    if (open) { tr.nextElementSibling.remove(); btn.setAttribute("aria-expanded", "false"); return; }
    const res = await App.api("GET", `/api/v1/enrollments/${btn.dataset.details}`);
    if (!res.ok) { App.toast("Could not load the steps", true); return; }
    const drawer = document.createElement("tr");
    drawer.className = "drawer-row";
    const td = document.createElement("td");
    td.colSpan = tr.children.length;
    const ul = document.createElement("ul");
    ul.className = "why-list";
    for (const s of res.data.steps) {
      const li = document.createElement("li");
      const cells = [`Step ${s.position + 1}`, `Day ${s.day} · ${s.type}`, s.status.replace("_", " "), s.reason || ""];
      cells.forEach((text, i) => {
        const span = document.createElement("span");
        span.textContent = text;
        if (i === 2) span.className = `state state-${s.status}`;
        if (i === 3) span.className = "muted";
        li.append(span);
      });
      ul.append(li);
    }
    td.append(ul);
    drawer.append(td);
    tr.after(drawer);
    btn.setAttribute("aria-expanded", "true");
  });
})();
