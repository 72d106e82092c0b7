// One email (/sends/<id>): reschedule or cancel it until it is claimed. A file of its own:
// the Content-Security-Policy allows no inline script.
(() => {
  const root = document.querySelector("[data-send-page]");
  if (!root || !root.querySelector("[data-reschedule]")) return;
  const id = root.dataset.send;
  const done = (res, what) => {
    if (!res.ok) { App.showErrors(root, (res.data && res.data.errors) || [{ field: "", message: `error ${res.status}` }]); return; }
    App.toast(what);
    setTimeout(() => window.location.reload(), 400);
  };
  root.querySelector("[data-reschedule]").addEventListener("click", async () => {
    const d = root.querySelector("[data-send-date]").value, t = root.querySelector("[data-send-time]").value;
    if (!d || !t) { App.showErrors(root, [{ field: "send_at", message: "Choose a date and a time" }]); return; }
    done(await App.api("PATCH", `/api/v1/sends/${id}`, { send_at: App.zonedToUtc(d, t, root.dataset.tz) }), "Rescheduled");
  });
  root.querySelector("[data-cancel-send]").addEventListener("click", async () => {
    if (!window.confirm("Cancel this email? It will not be sent.")) return;
    done(await App.api("POST", `/api/v1/sends/${id}/cancel`), "Cancelled");
  });
})();
