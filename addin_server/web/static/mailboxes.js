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
