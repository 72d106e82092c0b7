// Campaign-level actions (the campaign list and the campaign's page): each asks first, saying
// how many people it touches, then posts /api/v1/campaigns/<id>/<action> and reloads.
"use strict";

(() => {
  const DONE_KEY = "campaign-action-done";
  const shown = sessionStorage.getItem(DONE_KEY);
  if (shown) { sessionStorage.removeItem(DONE_KEY); document.addEventListener("DOMContentLoaded", () => App.toast(shown)); }

  const people = (n) => `${n} ${n === 1 ? "person" : "people"}`;

  function question(action, name, c) {
    const live = c.active + c.paused;
    const alone = c.paused - c.paused_with_campaign;
    switch (action) {
      case "pause": return c.active ? `Pause “${name}”? ${c.active} active ${c.active === 1 ? "person" : "people"} will pause: nothing more is sent to them until you resume (an email already being sent finishes).` : null;
      case "resume": return c.paused_with_campaign ? `Resume “${name}”? ${people(c.paused_with_campaign)} paused with the campaign will resume; an email that fell due meanwhile goes now.${alone ? ` ${people(alone)} you paused one by one stay paused.` : ""}` : null;
      case "stop": return live ? `Stop “${name}” for everyone? ${people(live)} will leave it; their scheduled emails and open tasks are cancelled. This cannot be undone.` : null;
      case "clone": return `Make a copy of “${name}” with the same steps and settings and nobody in it?`;
      case "archive": return `Archive “${name}”? It leaves the campaign list (“Archived” shows it).`;
      case "unarchive": return `Bring “${name}” back to the campaign list?`;
      default: return null;
    }
  }

  const NOTHING = {
    pause: "Nobody is active in this campaign: nothing to pause.",
    resume: "Nobody is paused with this campaign: nothing to resume.",
    stop: "Nobody is in this campaign: nothing to stop.",
  };

  // The menu opens leftwards from its button; where that would leave the window (the button
  // wrapped to the left edge on a phone), rightwards.
  document.querySelectorAll("[data-campaign-actions]").forEach((box) => box.addEventListener("toggle", () => {
    const menu = box.querySelector(".menu");
    menu.classList.remove("opens-right");
    if (box.open && menu.getBoundingClientRect().left < 0) menu.classList.add("opens-right");
  }));

  document.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("[data-campaign-action]");
    if (!btn) return;
    const box = btn.closest("[data-campaign-actions]");
    const { id, name } = box.dataset;
    const action = btn.dataset.campaignAction;
    const counts = await App.api("GET", `/api/v1/campaigns/${id}/people`);
    if (!counts.ok) { App.toast(`Could not read the campaign (error ${counts.status})`, true); return; }
    const c = counts.data;
    if (action === "archive" && c.active + c.paused) {
      App.toast(`${people(c.active + c.paused)} still in “${name}”: stop them first, then archive.`, true);
      return;
    }
    const ask = question(action, name, c);
    if (!ask) { App.toast(NOTHING[action] || "Nothing to do", true); return; }
    if (!window.confirm(ask)) return;
    btn.disabled = true;
    const res = await App.api("POST", `/api/v1/campaigns/${id}/${action}`);
    btn.disabled = false;
    if (!res.ok) {
      const errs = (res.data && res.data.errors) || [];
      App.toast(errs.map((e) => e.message).join(" · ") || `error ${res.status}`, true);
      return;
    }
    if (action === "clone") { window.location.href = `/campaigns/${res.data.id}?saved=1`; return; }
    const done = {
      pause: `${people(res.data.affected)} paused`, resume: `${people(res.data.affected)} resumed`,
      stop: `${people(res.data.affected)} stopped`, archive: "Campaign archived", unarchive: "Campaign back in the list",
    }[action];
    sessionStorage.setItem(DONE_KEY, done);
    if (action === "archive" && /\/results$/.test(location.pathname)) window.location.href = "/campaigns";
    else window.location.reload();
  });
})();
