// The Salesforce page: disconnect (POST with the CSRF header), then reload.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-sf-disconnect]");
  if (!button) return;
  button.disabled = true;
  const res = await App.api("POST", "/crm/salesforce/disconnect");
  if (!res.ok) {
    button.disabled = false;
    App.toast("Could not disconnect.", true);
    return;
  }
  window.location.reload();
});
