// Campaign builder: days and steps; for each email step only the send options its position
// allows; the time when it applies; "reply to the previous email" only after an email step;
// template or inline content with merge fields; preview; save with errors shown by field.
"use strict";

(() => {
  const form = document.querySelector("[data-builder]");
  if (!form) return;
  const boot = JSON.parse(document.getElementById("builder-data").textContent);
  const tpl = document.getElementById("step-template");
  const list = form.querySelector("[data-steps]");
  const templates = boot.templates || [];
  const OPTION_LABELS = {
    choose_at_launch: "I'll choose when I launch",
    fixed_time: "At a fixed time",
    same_time_as_previous: "Same time as the previous email",
    manual_task: "Create a task: I'll send it myself",
  };
  const FIRST = ["choose_at_launch", "fixed_time", "manual_task"];
  const LATER = ["same_time_as_previous", "fixed_time", "manual_task"];

  const campaign = boot.campaign || {
    name: "", timezone: boot.default_timezone,
    settings: { skip_weekends: true, stop_on_reply: true, mark_success_on_reply: false, remove_on_bounce: true, use_recipient_timezone: false,
                reply_from_same_domain: false, stop_other_campaigns_on_reply: false, stop_company_on_colleague_reply: false,
                skip_if_active_elsewhere: false, sending_window: null, holiday_countries: [],
                ...(boot.default_settings || {}) },  // the organisation's defaults
    steps: [{ day: 1, type: "email", send_option: "fixed_time", send_time: "09:00", reply_to_previous: false, subject: "", body_html: "", template_id: null, instructions: "" }],
  };
  let steps = campaign.steps.map((s) => ({ ...s }));
  let uid = 0;

  // --- settings ------------------------------------------------------------------------------
  form.elements.name.value = campaign.name;
  form.elements.timezone.value = campaign.timezone;
  // Every setting the server returns has a control here; the yes/no ones are checkboxes named
  // after their key, the two structured ones have their own inputs (see readSettings).
  const BOOL_SETTINGS = ["skip_weekends", "stop_on_reply", "mark_success_on_reply", "remove_on_bounce",
                         "use_recipient_timezone", "reply_from_same_domain", "stop_other_campaigns_on_reply",
                         "stop_company_on_colleague_reply", "skip_if_active_elsewhere"];
  const DEFAULT_WINDOW = { days: ["mon", "tue", "wed", "thu", "fri"], start: "08:00", end: "18:00" };
  const els = form.elements;
  for (const key of BOOL_SETTINGS) els[key].checked = !!campaign.settings[key];
  const win = campaign.settings.sending_window;
  els.window_on.checked = !!win;
  const shownWindow = win || DEFAULT_WINDOW;
  for (const box of form.querySelectorAll("[name=window_day]")) box.checked = shownWindow.days.includes(box.value);
  els.window_start.value = shownWindow.start;
  els.window_end.value = shownWindow.end;
  const windowFields = form.querySelector("[data-window-fields]");
  const syncWindow = () => { windowFields.hidden = !els.window_on.checked; };
  els.window_on.addEventListener("change", syncWindow);
  syncWindow();
  els.holiday_countries.value = (campaign.settings.holiday_countries || []).join(", ");

  function readSettings() {
    const out = Object.fromEntries(BOOL_SETTINGS.map((k) => [k, els[k].checked]));
    out.sending_window = els.window_on.checked ? {
      days: [...form.querySelectorAll("[name=window_day]:checked")].map((b) => b.value),
      start: els.window_start.value, end: els.window_end.value,
    } : null;
    out.holiday_countries = els.holiday_countries.value.split(/[\s,;]+/).filter(Boolean).map((c) => c.toUpperCase());
    return out;
  }

  // --- rules by position ---------------------------------------------------------------------
  function allowedOptions(i) {
    const earlierEmail = steps.slice(0, i).some((s) => s.type === "email");
    let options = earlierEmail ? LATER : FIRST;
    if (!earlierEmail && steps[i].day !== 1) options = options.filter((o) => o !== "choose_at_launch");
    return options;
  }
  const canReply = (i) => i > 0 && steps[i - 1].type === "email";

  function normalise() {
    steps.forEach((s, i) => {
      if (s.type !== "email") { s.send_option = null; s.reply_to_previous = false; return; }
      const allowed = allowedOptions(i);
      if (!allowed.includes(s.send_option)) s.send_option = allowed.includes("fixed_time") && i === 0 ? "fixed_time" : allowed[0];
      if (s.send_option === "fixed_time" && !s.send_time) s.send_time = "09:00";
      if (!canReply(i)) s.reply_to_previous = false;
    });
  }

  // --- rendering -----------------------------------------------------------------------------
  function render() {
    normalise();
    list.replaceChildren();
    let lastDay = null;
    steps.forEach((s, i) => {
      if (s.day !== lastDay) {
        const divider = document.createElement("li");
        divider.className = "day-divider";
        divider.setAttribute("aria-hidden", "true");
        divider.textContent = `Day ${s.day}`;
        list.append(divider);
        lastDay = s.day;
      }
      list.append(renderStep(s, i));
    });
  }

  function renderStep(s, i) {
    const li = tpl.content.firstElementChild.cloneNode(true);
    const id = `s${++uid}`;
    li.dataset.index = i;
    li.dataset.type = s.type;
    li.querySelector(".step-no").textContent = `Step ${i + 1}`;
    li.querySelector("[data-k=day]").value = s.day;
    li.querySelector("[data-k=type]").value = s.type;
    li.querySelectorAll("[data-move='-1']").forEach((b) => { b.disabled = i === 0; });
    li.querySelectorAll("[data-move='1']").forEach((b) => { b.disabled = i === steps.length - 1; });
    li.querySelectorAll(".err[data-f]").forEach((el) => { el.dataset.field = `steps[${i}].${el.dataset.f}`; });
    if (s.type !== "email") {
      li.querySelector("[data-k=instructions]").value = s.instructions || "";
      return li;
    }
    const opts = li.querySelector("[data-options]");
    for (const option of allowedOptions(i)) {
      const label = document.createElement("label");
      label.className = "opt";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = `${id}-option`;
      input.value = option;
      input.checked = s.send_option === option;
      input.dataset.k = "send_option";
      label.append(input, " " + OPTION_LABELS[option]);
      opts.append(label);
    }
    const timeRow = li.querySelector("[data-time-row]");
    timeRow.hidden = s.send_option !== "fixed_time";
    li.querySelector("[data-k=send_time]").value = s.send_time || "09:00";
    li.querySelector("[data-tz-hint]").textContent = form.elements.timezone.value;
    const reply = li.querySelector("[data-reply-row]");
    reply.hidden = !canReply(i);
    li.querySelector("[data-k=reply_to_previous]").checked = !!s.reply_to_previous;
    li.querySelector("[data-k=cc]").value = (s.cc || []).join(", ");
    li.querySelector("[data-k=bcc]").value = (s.bcc || []).join(", ");
    const picker = li.querySelector("[data-k=template_id]");
    for (const t of templates) picker.add(new Option(t.name, String(t.id)));
    picker.value = s.template_id ? String(s.template_id) : "";
    const subject = li.querySelector("[data-k=subject]");
    const editor = li.querySelector("[data-k=body_html]");
    const bodyLabel = li.querySelector("[data-body-label]");
    bodyLabel.id = `${id}-body`;
    editor.setAttribute("aria-labelledby", bodyLabel.id);
    const chosen = templates.find((t) => t.id === s.template_id);
    subject.value = chosen ? chosen.subject : s.subject || "";
    editor.innerHTML = chosen ? chosen.body_html : s.body_html || "";
    subject.readOnly = !!chosen;
    editor.contentEditable = chosen ? "false" : "true";
    li.querySelector(".toolbar").hidden = !!chosen;
    li.querySelector(".subject-row label").hidden = !!s.reply_to_previous;
    li.querySelector(".reply-subject").hidden = !s.reply_to_previous;
    li.querySelectorAll("[data-manual-only]").forEach((b) => { b.hidden = s.send_option !== "manual_task"; });
    return li;
  }

  const stepOf = (el) => { const li = el.closest(".step"); return li ? [li, +li.dataset.index] : [null, -1]; };

  // --- editing -------------------------------------------------------------------------------
  list.addEventListener("input", (ev) => {
    const [li, i] = stepOf(ev.target);
    if (!li) return;
    const k = ev.target.dataset.k;
    if (k === "subject" || k === "instructions" || k === "send_time") steps[i][k] = ev.target.value;
    if (k === "body_html") steps[i].body_html = ev.target.innerHTML;
    if (k === "cc" || k === "bcc") steps[i][k] = ev.target.value.split(/[,;\s]+/).map((a) => a.trim()).filter(Boolean);
  });

  list.addEventListener("change", (ev) => {
    const [li, i] = stepOf(ev.target);
    if (!li) return;
    const s = steps[i];
    const k = ev.target.dataset.k;
    if (k === "day") { s.day = Math.max(1, parseInt(ev.target.value, 10) || 1); render(); focusStep(i, "[data-k=day]"); }
    else if (k === "type") {
      s.type = ev.target.value;
      if (s.type === "email" && !s.subject && !s.body_html) s.subject = "";
      render(); focusStep(i, "[data-k=type]");
    } else if (k === "send_option") { s.send_option = ev.target.value; render(); focusStep(i, `[value=${s.send_option}]`); }
    else if (k === "reply_to_previous") { s.reply_to_previous = ev.target.checked; render(); focusStep(i, "[data-k=reply_to_previous]"); }
    else if (k === "template_id") {
      s.template_id = ev.target.value ? +ev.target.value : null;
      if (s.template_id) { s.body_html = ""; s.subject = ""; }
      render(); focusStep(i, "[data-k=template_id]");
    }
  });

  function focusStep(i, selector) {
    const el = list.querySelector(`.step[data-index="${i}"] ${selector}`);
    if (el) el.focus();
  }

  list.addEventListener("click", (ev) => {
    const [li, i] = stepOf(ev.target);
    if (!li) return;
    const btn = ev.target.closest("button");
    if (!btn) return;
    if (btn.dataset.move) {
      const j = i + +btn.dataset.move;
      if (j < 0 || j >= steps.length) return;
      [steps[i], steps[j]] = [steps[j], steps[i]];
      // Days never decrease down the list: a moved step takes a day that fits.
      steps[j].day = Math.max(steps[j].day, j > 0 ? steps[j - 1].day : 1);
      if (j === 0) steps[0].day = 1;
      for (let n = 1; n < steps.length; n++) steps[n].day = Math.max(steps[n].day, steps[n - 1].day);
      render(); focusStep(j, `[data-move="${btn.dataset.move}"]`);
    } else if (btn.hasAttribute("data-remove")) {
      if (steps.length === 1) { App.toast("A campaign needs at least one step", true); return; }
      steps.splice(i, 1);
      if (steps.length) steps[0].day = 1;
      render();
    } else if (btn.dataset.cmd) {
      const editor = li.querySelector(".editor");
      editor.focus();
      const arg = btn.dataset.cmd === "createLink" ? prompt("Link address (https://…)") : null;
      if (btn.dataset.cmd === "createLink" && !arg) return;
      document.execCommand(btn.dataset.cmd, false, arg);
      steps[i].body_html = editor.innerHTML;
    } else if (btn.dataset.insert) {
      insertField(li, i, btn.dataset.insert);
    } else if (btn.hasAttribute("data-preview")) {
      preview(li, i);
    }
  });

  // Merge fields go where the cursor was: the subject if it had focus last, else the body.
  let lastTarget = null;
  list.addEventListener("focusin", (ev) => { if (ev.target.matches("[data-k=subject], .editor")) lastTarget = ev.target; });
  function insertField(li, i, text) {
    const target = lastTarget && li.contains(lastTarget) && !lastTarget.readOnly ? lastTarget : li.querySelector(".editor");
    if (target.matches("input")) {
      const at = target.selectionStart ?? target.value.length;
      target.value = target.value.slice(0, at) + text + target.value.slice(target.selectionEnd ?? at);
      target.focus();
      target.setSelectionRange(at + text.length, at + text.length);
      steps[i].subject = target.value;
    } else {
      target.focus();
      const sel = window.getSelection();
      if (!sel.rangeCount || !target.contains(sel.anchorNode)) {
        const range = document.createRange();
        range.selectNodeContents(target);
        range.collapse(false);
        sel.removeAllRanges();
        sel.addRange(range);
      }
      document.execCommand("insertText", false, text);
      steps[i].body_html = target.innerHTML;
    }
  }

  form.addEventListener("click", (ev) => {
    const add = ev.target.closest("[data-add]");
    if (!add) return;
    const last = steps[steps.length - 1];
    const type = add.dataset.add;
    const day = last ? last.day + (type === "email" ? 2 : 1) : 1;
    steps.push({ day: steps.length ? day : 1, type, send_option: null, send_time: null, reply_to_previous: false,
                 subject: "", body_html: "", template_id: null, instructions: "" });
    render();
    focusStep(steps.length - 1, "[data-k=day]");
  });

  form.elements.timezone.addEventListener("change", () => {
    list.querySelectorAll("[data-tz-hint]").forEach((el) => { el.textContent = form.elements.timezone.value; });
  });

  // --- preview -------------------------------------------------------------------------------
  function samplePerson() {
    const person = {};
    document.querySelectorAll("[data-sample]").forEach((el) => { if (el.value.trim()) person[el.dataset.sample] = el.value.trim(); });
    if (!person.email) person.email = "sample@example.com";
    return person;
  }

  async function preview(li, i) {
    const s = steps[i];
    const body = s.template_id ? { template_id: s.template_id } : { subject: s.subject || "", body_html: s.body_html || "" };
    const res = await App.api("POST", "/api/v1/preview", { ...body, person: samplePerson() });
    const box = li.querySelector("[data-preview-box]");
    const note = li.querySelector("[data-preview-note]");
    if (!res.ok) {
      box.hidden = true;
      const errs = (res.data && res.data.errors) || [];
      note.textContent = errs.map((e) => e.message).join(" · ") || "Preview failed";
      return;
    }
    const d = res.data;
    box.hidden = false;
    box.querySelector(".pv-subject").textContent = s.reply_to_previous ? "Re: (the previous email's subject)" : d.subject;
    box.querySelector("iframe").srcdoc =
      `<!doctype html><meta charset="utf-8"><style>body{font:14px/1.5 system-ui,sans-serif;margin:12px;color:#1c2230}mark.missing-field{background:#ffe08a;padding:0 2px;border-radius:3px}</style>${d.body_html}`;
    const notes = [];
    if (d.missing_fields.length) notes.push(`Missing for this person (marked): ${d.missing_fields.join(", ")} (an automatic email would be held until you fix it)`);
    if (d.prompts.length) notes.push(`${d.prompts.length} prompt(s) to replace when you send`);
    note.textContent = notes.join(" · ");
  }

  // --- save ----------------------------------------------------------------------------------
  function payload() {
    return {
      name: form.elements.name.value.trim(),
      timezone: form.elements.timezone.value.trim(),
      settings: readSettings(),
      steps: steps.map((s) => {
        // The saved step's id goes back, so that the server tells a moved step from an edit.
        const out = s.id ? { id: s.id, day: s.day, type: s.type } : { day: s.day, type: s.type };
        if (s.type !== "email") return { ...out, instructions: s.instructions || "" };
        out.send_option = s.send_option;
        if (s.send_option === "fixed_time") out.send_time = s.send_time;
        out.reply_to_previous = !!s.reply_to_previous;
        out.cc = s.cc || [];
        out.bcc = s.bcc || [];
        if (s.template_id) out.template_id = s.template_id;
        else { out.body_html = s.body_html || ""; if (!s.reply_to_previous) out.subject = s.subject || ""; }
        return out;
      }),
    };
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const save = form.querySelector("[data-save]");
    save.disabled = true;
    const id = campaign.id;
    const body = payload();
    let res = null;
    if (id) {
      // A campaign with people in it: first a dry run says whom the change reaches, and asks.
      res = await App.api("PATCH", `/api/v1/campaigns/${id}?dry_run=true`, body);
      const ask = res.ok && liveQuestion(res.data.live_edit);
      if (ask && !window.confirm(ask)) { save.disabled = false; return; }
    }
    if (!res || res.ok) res = await App.api(id ? "PATCH" : "POST", id ? `/api/v1/campaigns/${id}` : "/api/v1/campaigns", body);
    save.disabled = false;
    if (!res.ok) {
      // "settings.holiday_countries[2]" is shown beside the one holiday input.
      // "steps[0].cc[1]" beside that step's Cc field.
      const locate = (f) => (/^settings\.holiday_countries\[/.test(f || "")
        ? form.querySelector('[data-field="settings.holiday_countries"]')
        : /^steps\[\d+\]\.(cc|bcc)\[/.test(f || "")
          ? form.querySelector(`[data-field="${CSS.escape(f.replace(/\[\d+\]$/, ""))}"]`) : null);
      App.showErrors(form, (res.data && res.data.errors) || [{ field: "", message: `error ${res.status}` }], locate);
      return;
    }
    App.clearErrors(form);
    if (!id) { window.location.href = `/campaigns/${res.data.id}?saved=1`; return; }
    // New steps now have ids: the next save must send them back like the others.
    res.data.steps.forEach((saved, i) => { if (steps[i]) steps[i].id = saved.id; });
    const live = res.data.live_edit;
    const note = form.querySelector("[data-live-edit]");
    note.textContent = live && live.people ? `Saved: ${liveSummary(live)}.` : "";
    note.hidden = !note.textContent;
    App.toast(live && live.people ? `Campaign saved: ${liveSummary(live)}` : "Campaign saved");
  });

  const people = (n) => `${n} ${n === 1 ? "person" : "people"}`;
  const emails = (n) => `${n} scheduled email${n === 1 ? "" : "s"}`;

  function liveSummary(live) {
    return [`the change reaches ${people(live.people)}'s future steps`, ...liveDetails(live)].join("; ");
  }

  // What else the change does beyond whom it reaches (the question says whom itself).
  function liveDetails(live) {
    const parts = [];
    if (live.rescheduled) parts.push(`${emails(live.rescheduled)} moved to the new time${live.due_now ? ` (${live.due_now} now due, so sent at once)` : ""}`);
    if (live.kept_by_hand) parts.push(`${emails(live.kept_by_hand)} you rescheduled by hand kept their time`);
    if (live.tasks_moved) parts.push(`${live.tasks_moved} open task${live.tasks_moved === 1 ? "" : "s"} moved`);
    if (live.cancelled) parts.push(`${live.cancelled} email${live.cancelled === 1 ? "" : "s"} or tasks of removed steps cancelled`);
    if (live.finished) parts.push(`${people(live.finished)} finish the campaign`);
    return parts;
  }

  function liveQuestion(live) {
    if (!live || !live.people) return null;
    const details = liveDetails(live).join("; ");
    return `This change affects ${people(live.people)}'s future steps${details ? `: ${details}` : ""}. ` +
      "Automatic emails not sent yet use the new text; emails you wrote yourself keep yours. Save?";
  }

  if (new URLSearchParams(location.search).get("saved")) App.toast("Campaign saved. Add people when you are ready.");
  render();
})();
