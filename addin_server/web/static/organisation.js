// The organisation's settings: one PATCH of every field; errors shown by field (a list's item,
// "domains[1]", is shown at its list); a reload shows what the server kept.
"use strict";

(() => {
  const form = document.querySelector("[data-org-form]");
  if (!form) return;
  const els = form.elements;
  const list = (text) => text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = {
      default_timezone: els.default_timezone.value.trim() || null,
      working_days: [...form.querySelectorAll("[name=working_day]:checked")].map((b) => b.value),
      holiday_countries: list(els.holiday_countries.value),
      stop_rules: Object.fromEntries([...form.querySelectorAll("[name=stop_rule]")].map((b) => [b.value, b.checked])),
      shared_launch: els.shared_launch.value,
      domains: list(els.domains.value),
    };
    const save = form.querySelector("[data-save-org]");
    save.disabled = true;
    const res = await App.api("PATCH", "/api/v1/organisation", payload);
    save.disabled = false;
    if (!res.ok) {
      App.showErrors(form, res.data && res.data.errors,
                     (field) => form.querySelector(`[data-field="${CSS.escape(field.replace(/\[\d+\]$/, ""))}"]`));
      return;
    }
    App.toast("Saved.");
    setTimeout(() => window.location.reload(), 400);
  });
})();
