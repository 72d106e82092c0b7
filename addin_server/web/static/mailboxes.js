// The Mailboxes page: release a mailbox (or a domain, or a campaign) paused by its bounce
// breaker, then reload so that every state on the page is the server's.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-release-mailbox], [data-release-campaign]");
  if (!button) return;
  const mailbox = button.dataset.releaseMailbox;
  const path = mailbox ? `/api/v1/mailboxes/${mailbox}/breaker/release`
                       : `/api/v1/campaigns/${button.dataset.releaseCampaign}/breaker/release`;
  button.disabled = true;
  const res = await App.api("POST", path);
  if (!res.ok) {
    button.disabled = false;
    App.toast(((res.data && res.data.errors) || []).map((e) => e.message).join(" · ") || "Could not release it.", true);
    return;
  }
  window.location.reload();
});

// A mailbox's limits: PATCH /api/v1/mailboxes/<id>/limits, errors named by field.
function limitValue(input) {
  if (input.value.trim() === "") return input.name === "daily_cap" || input.name === "batch_size" ? null : 0;
  const n = Number(input.value);
  return Number.isInteger(n) ? n : input.value;
}

document.addEventListener("submit", async (event) => {
  const limits = event.target.closest("[data-limits]");
  const settings = event.target.closest("[data-org-settings]");
  if (!limits && !settings) return;
  event.preventDefault();
  const form = limits || settings;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  let res;
  if (limits) {
    const body = {};
    for (const input of form.querySelectorAll("input")) body[input.name] = limitValue(input);
    res = await App.api("PATCH", `/api/v1/mailboxes/${limits.dataset.limits}/limits`, body);
  } else {
    const body = {};
    for (const input of form.querySelectorAll("input[type=checkbox]")) body[input.name] = input.checked;
    res = await App.api("PATCH", "/api/v1/deliverability/settings", body);
  }
  button.disabled = false;
  const errors = form.querySelector("[data-errors]");
  if (!res.ok) {
    const text = ((res.data && res.data.errors) || []).map((e) => (e.field ? e.field + ": " : "") + e.message).join(" · ") || "Could not save.";
    if (errors) errors.textContent = text;
    App.toast(text, true);
    return;
  }
  window.location.reload(); // the forecast and every state come from the server again
});

// A bounce burst held for review (admins): release it after a confirm, say whom it resumed.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-release-burst]");
  if (!button) return;
  const provider = button.dataset.releaseBurst;
  if (!window.confirm(`Release the ${button.dataset.count} bounces held from ${provider}? Their addresses stay unsuppressed and the people they paused resume.`)) return;
  button.disabled = true;
  const res = await App.api("POST", "/api/v1/bounces/held/release", { provider });
  const out = button.parentElement.querySelector("[data-release-result]");
  if (!res.ok) {
    button.disabled = false;
    App.toast(((res.data && res.data.errors) || []).map((e) => e.message).join(" · ") || "Could not release it.", true);
    return;
  }
  const n = res.data.resumed;
  out.textContent = `Released: ${n} ${n === 1 ? "person" : "people"} resumed.`;
});
