// The person page (/people/<id>): save the fields, other addresses, pause / resume / stop a
// campaign, add to a campaign, unsubscribe, and (DEV_MODE) simulate an answer. Every change is
// one REST API call; the page then reloads to show the server's truth.
(() => {
  const root = document.querySelector("[data-person-page]");
  if (!root) return;
  const id = root.dataset.person;
  const $ = (sel) => root.querySelector(sel);
  const after = (res, what, reload = true) => {
    if (!res.ok) {
      App.showErrors(root, (res.data && res.data.errors) || [{ field: "", message: `error ${res.status}` }]);
      return false;
    }
    App.toast(what);
    if (reload) setTimeout(() => window.location.reload(), 400);
    return true;
  };

  // --- fields ---
  const form = $("[data-person-form]");
  const removed = new Set();
  form.addEventListener("click", (ev) => {
    const btn = ev.target.closest("[data-cf-remove]");
    if (!btn) return;
    const row = btn.closest("[data-custom-field]");
    removed.add(row.dataset.customField);
    row.remove();
  });
  $("[data-cf-add]").addEventListener("click", () => {
    const nameEl = $("[data-cf-new-name]"), valueEl = $("[data-cf-new-value]");
    const name = nameEl.value.trim().toLowerCase();
    if (!name) { App.showErrors(root, [{ field: "fields", message: "Name the field first" }]); return; }
    const row = document.createElement("div");
    row.className = "custom-field";
    row.dataset.customField = name;
    const label = document.createElement("label");
    label.className = "mono";
    label.textContent = name;
    const input = document.createElement("input");
    input.dataset.cfValue = "";
    input.value = valueEl.value;
    input.id = `cf-new-${Date.now()}`;
    label.htmlFor = input.id;
    const err = document.createElement("div");
    err.className = "err";
    err.dataset.field = `fields.${name}`;
    row.append(label, input, err);
    const none = $("[data-no-fields]");
    if (none) none.remove();
    $("[data-custom-fields]").append(row);
    removed.delete(name);
    nameEl.value = ""; valueEl.value = "";
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { fields: {} };
    for (const key of ["first_name", "last_name", "company", "title", "timezone"]) {
      body[key] = form.elements[key].value;
    }
    root.querySelectorAll("[data-custom-field]").forEach((row) => {
      body.fields[row.dataset.customField] = row.querySelector("[data-cf-value]").value;
    });
    removed.forEach((name) => { if (!(name in body.fields)) body.fields[name] = null; });
    const save = $("[data-save]");
    save.disabled = true;
    const res = await App.api("PATCH", `/api/v1/people/${id}`, body);
    save.disabled = false;
    after(res, "Saved");
  });

  // --- other addresses ---
  const addAddress = $("[data-add-address]");
  if (addAddress) {
    addAddress.addEventListener("click", async () => {
      const email = $("[data-new-address]").value.trim();
      after(await App.api("POST", `/api/v1/people/${id}/addresses`, { email }), "Address added");
    });
  }
  root.querySelectorAll("[data-remove-address]").forEach((btn) => btn.addEventListener("click", async () => {
    const email = encodeURIComponent(btn.dataset.removeAddress);
    after(await App.api("DELETE", `/api/v1/people/${id}/addresses/${email}`), "Address removed");
  }));

  // --- campaigns ---
  root.querySelectorAll("[data-enrollment-action]").forEach((btn) => btn.addEventListener("click", async () => {
    const action = btn.dataset.enrollmentAction;
    if (action === "stop" && !window.confirm("Stop this campaign for this person? Pending emails and tasks are cancelled.")) return;
    btn.disabled = true;
    const done = { pause: "Paused", resume: "Resumed", stop: "Stopped" }[action];
    if (!after(await App.api("POST", `/api/v1/enrollments/${btn.dataset.enrollment}/${action}`), done)) btn.disabled = false;
  }));
  const launch = $("[data-launch]");
  if (launch) {
    // A campaign whose first email goes at a time chosen at launch asks for it (in its zone).
    const chosen = () => $("[data-add-campaign]").selectedOptions[0];
    const showTime = () => { $("[data-launch-time]").hidden = !chosen().hasAttribute("data-needs-time"); };
    $("[data-add-campaign]").addEventListener("change", showTime);
    showTime();
    launch.addEventListener("click", async () => {
      const option = chosen();
      const body = { people: [{ email: root.dataset.email }] };
      if (option.hasAttribute("data-needs-time")) {
        const d = $("[data-launch-date]").value, t = $("[data-launch-at]").value;
        if (!d || !t) { App.showErrors(root, [{ field: "first_send_at", message: "Choose when the first email goes" }]); return; }
        body.first_send_at = App.zonedToUtc(d, t, option.dataset.tz);
      }
      const res = await App.api("POST", `/api/v1/campaigns/${option.value}/launch`, body);
      if (res.ok && res.data && res.data.enrollments.length === 0) {
        const why = (res.data.skipped[0] && res.data.skipped[0].reason) || "skipped";
        App.showErrors(root, [{ field: "people", message: `Not added: ${why}` }]);
        return;
      }
      after(res, "Added to the campaign");
    });
  }
  const unsub = $("[data-unsubscribe]");
  if (unsub) {
    unsub.addEventListener("click", async () => {
      if (!window.confirm("Unsubscribe this person? Every campaign of theirs stops and the address is suppressed.")) return;
      after(await App.api("POST", `/api/v1/people/${id}/unsubscribe`), "Unsubscribed");
    });
  }

  // --- DEV_MODE: simulated answers, through the real inbound path ---
  root.querySelectorAll("[data-simulate]").forEach((btn) => btn.addEventListener("click", async () => {
    btn.disabled = true;
    const res = await App.api("POST", `/api/v1/people/${id}/simulate`, { kind: btn.dataset.simulate, send_id: Number(btn.dataset.send) });
    if (!after(res, res.ok ? `Simulated: ${res.data.action}` : "")) btn.disabled = false;
  }));
})();
