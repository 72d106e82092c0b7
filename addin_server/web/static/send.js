// One email (/sends/<id>): reschedule or cancel it until it is claimed; a held one is fixed
// here (fill the missing fields and send, send with the default text, or skip the step). A
// file of its own: the Content-Security-Policy allows no inline script.
(() => {
  const root = document.querySelector("[data-send-page]");
  if (!root) return;
  const id = root.dataset.send;
  const buttons = () => root.querySelectorAll("button");
  const done = (res, what) => {
    if (!res.ok) {
      buttons().forEach((b) => { b.disabled = false; });
      App.showErrors(root, (res.data && res.data.errors) || [{ field: "", message: `error ${res.status}` }]);
      return;
    }
    App.toast(what);
    setTimeout(() => window.location.reload(), 400);
  };
  // One request at a time: a double click releases once (the server refuses a second with 409).
  const once = (fn) => async () => { buttons().forEach((b) => { b.disabled = true; }); await fn(); };
  const on = (selector, fn) => { const el = root.querySelector(selector); if (el) el.addEventListener("click", fn); };

  on("[data-reschedule]", async () => {
    const d = root.querySelector("[data-send-date]").value, t = root.querySelector("[data-send-time]").value;
    if (!d || !t) { App.showErrors(root, [{ field: "send_at", message: "Choose a date and a time" }]); return; }
    done(await App.api("PATCH", `/api/v1/sends/${id}`, { send_at: App.zonedToUtc(d, t, root.dataset.tz) }), "Rescheduled");
  });
  on("[data-cancel-send]", async () => {
    if (!window.confirm("Cancel this email? It will not be sent.")) return;
    done(await App.api("POST", `/api/v1/sends/${id}/cancel`), "Cancelled");
  });

  on("[data-release]", once(async () => {
    const fields = {};
    root.querySelectorAll("[data-fill]").forEach((el) => { fields[el.dataset.fill] = el.value; });
    done(await App.api("POST", `/api/v1/sends/${id}/release`, { fields }), "Saved: the email goes now");
  }));
  on("[data-release-defaults]", once(async () => {
    done(await App.api("POST", `/api/v1/sends/${id}/release`, { use_defaults: true }), "The email goes now, as shown");
  }));
  on("[data-skip-step]", once(async () => {
    done(await App.api("POST", `/api/v1/sends/${id}/skip`), "Step skipped");
  }));
})();
