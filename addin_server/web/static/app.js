// Shared by every page: the JSON API with the CSRF header, errors shown by field, toasts, the
// Live Feed poller, and wall-clock times in a named IANA zone.
"use strict";

const App = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  /** Call the REST API; resolves to {ok, status, data}. Never throws on HTTP errors. */
  async function api(method, path, body, headers) {
    const opts = { method, credentials: "same-origin", headers: { "X-CSRFToken": csrf(), ...(headers || {}) } };
    if (body !== undefined) {
      if (typeof body === "string" || body instanceof Blob) opts.body = body;
      else { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    }
    let res;
    try { res = await fetch(path, opts); }
    catch (e) { return { ok: false, status: 0, data: { errors: [{ field: "", message: "The server did not answer; check your connection." }] } }; }
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    return { ok: res.ok, status: res.status, data };
  }

  /** Done or Skip a task. Done on a task whose email is still scheduled is refused (it
   *  completes when the email goes): ask whether to cancel the email and mark it done. */
  async function finishTask(taskId, action, body) {
    const res = await finishOnce(taskId, action, body);
    if (res.ok) refreshBadge();
    return res;
  }

  async function finishOnce(taskId, action, body) {
    const path = `/api/v1/tasks/${taskId}/${action}`;
    const res = await api("POST", path, body);
    const err = res.status === 409 && res.data && res.data.errors && res.data.errors[0];
    if (action !== "complete" || !err || err.field !== "send" || !/cancel_send/.test(err.message)) return res;
    const message = err.message.replace(/; send cancel_send.*$/, ".");
    if (!window.confirm(`${message}\n\nCancel the email and mark the task done without sending it?`)) {
      return { ok: false, status: 409, data: { errors: [{ field: "send", message: "Not done: the email is still scheduled." }] } };
    }
    return api("POST", path, { ...(body || {}), cancel_send: true });
  }

  function toast(message, bad) {
    const el = document.querySelector(".toast");
    el.textContent = message;
    el.classList.toggle("bad", !!bad);
    el.hidden = false;
    clearTimeout(el._t);
    el._t = setTimeout(() => { el.hidden = true; }, 3500);
  }

  /** Put each API error next to the element with data-field (or data-f inside a step). */
  function showErrors(root, errors, locate) {
    clearErrors(root);
    const unplaced = [];
    for (const e of errors || []) {
      const slot = (locate && locate(e.field)) || root.querySelector(`[data-field="${CSS.escape(e.field)}"]`);
      if (slot) {
        slot.textContent = slot.textContent ? slot.textContent + " · " + e.message : e.message;
        const input = slot.previousElementSibling;
        if (input && input.matches("input, select, textarea, .editor")) input.classList.add("has-error");
      } else unplaced.push(e);
    }
    const summary = root.querySelector("[data-error-summary]");
    if (summary) {
      summary.hidden = !errors || !errors.length;
      summary.textContent = errors && errors.length
        ? (unplaced.length ? unplaced.map((e) => (e.field ? e.field + ": " : "") + e.message).join(" · ")
                           : `Please fix ${errors.length === 1 ? "the error" : "the " + errors.length + " errors"} below.`)
        : "";
    } else if (unplaced.length) toast(unplaced.map((e) => e.message).join(" · "), true);
    const first = root.querySelector(".err:not(:empty)");
    if (first) first.scrollIntoView({ block: "center", behavior: "smooth" });
  }

  function clearErrors(root) {
    root.querySelectorAll(".err").forEach((el) => { el.textContent = ""; });
    root.querySelectorAll(".has-error").forEach((el) => el.classList.remove("has-error"));
    const summary = root.querySelector("[data-error-summary]");
    if (summary) summary.hidden = true;
  }

  /** The UTC ISO instant of a wall-clock date ("2026-11-24") and time ("09:30") in `zone`. */
  function zonedToUtc(dateStr, timeStr, zone) {
    const [y, m, d] = dateStr.split("-").map(Number);
    const [hh, mm] = timeStr.split(":").map(Number);
    const want = Date.UTC(y, m - 1, d, hh, mm);
    const fmt = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
    const wall = (t) => {
      const p = Object.fromEntries(fmt.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
      return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute);
    };
    let t = want - (wall(want) - want);       // first guess with the offset at `want`
    t += want - wall(t);                       // correct once across a DST change
    return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  /** A calendar date ("2026-03-03") in the product's one date style (addin_server/dates.py):
   *  "Tue, 3 Mar", with the year when it is not this year. */
  function day(isoDate) {
    const [y, m, d] = isoDate.split("-").map(Number);
    const weekday = DAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
    const text = `${weekday}, ${d} ${MONTHS[m - 1]}`;
    return y === new Date().getFullYear() ? text : `${text} ${y}`;
  }

  /** Poll the feed for every list on the page (compact panel, full page). */
  function startFeed() {
    const lists = [...document.querySelectorAll("[data-feed-list]")];
    if (!lists.length) return;
    for (const list of lists) {
      const holder = list.closest("[data-after]") || list;
      let after = +holder.dataset.after || 0;
      const compact = list.classList.contains("compact") ? "1" : "0";
      const tick = async () => {
        if (document.hidden) return schedule(5000);
        let data = null;
        try {
          const res = await fetch(`/feed/poll?after=${after}&compact=${compact}`,
                                  { credentials: "same-origin", headers: { Accept: "application/json" } });
          // Signed out (a redirect to the sign-in page) or a server error: try again later.
          if (res.ok && (res.headers.get("Content-Type") || "").includes("json")) data = await res.json();
        } catch (e) { data = null; }
        if (!data) return schedule(15000);
        after = data.after;
        const empty = list.querySelector(".empty");
        for (const item of data.items) {
          if (list.querySelector(`[data-id="${item.id}"]`)) continue;
          if (empty) empty.remove();
          const tpl = document.createElement("template");
          tpl.innerHTML = item.html.trim();
          const li = tpl.content.firstElementChild;
          li.classList.add("fresh");
          list.prepend(li);
          list.dispatchEvent(new CustomEvent("feed:item", { detail: li }));
        }
        while (list.children.length > (compact === "1" ? 30 : 500)) list.lastElementChild.remove();
        schedule(data.more ? 50 : 4000);
      };
      const schedule = (ms) => setTimeout(tick, ms);
      schedule(4000);
    }
  }

  function feedFilters() {
    const chips = document.querySelectorAll(".chip-btn[data-kind]");
    const list = document.querySelector("[data-feed-page]");
    if (!chips.length || !list) return;
    let kind = "all";
    const apply = () => list.querySelectorAll(".feed-item").forEach((li) => {
      li.hidden = kind !== "all" && li.dataset.kind !== kind;
    });
    chips.forEach((chip) => chip.addEventListener("click", () => {
      kind = chip.dataset.kind;
      chips.forEach((c) => c.setAttribute("aria-pressed", String(c === chip)));
      apply();
    }));
    list.addEventListener("feed:item", apply);
  }

  /** The Command Center badge: tasks due today or earlier, re-read after each action and
   *  every half minute (a task falls due at midnight, another tab completes one). */
  async function refreshBadge() {
    const badge = document.querySelector("[data-due-count]");
    if (!badge) return;
    try {
      const res = await fetch("/nav/counts", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!res.ok || !(res.headers.get("Content-Type") || "").includes("json")) return;
      const n = (await res.json()).due_tasks;
      badge.textContent = String(n);
      badge.hidden = !n;
    } catch (e) { /* offline: keep the last count */ }
  }

  function startBadge() {
    if (!document.querySelector("[data-due-count]")) return;
    setInterval(() => { if (!document.hidden) refreshBadge(); }, 30000);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshBadge(); });
  }

  document.addEventListener("DOMContentLoaded", () => { startFeed(); feedFilters(); startBadge(); });
  return { api, day, finishTask, refreshBadge, toast, showErrors, clearErrors, zonedToUtc };
})();
