/* The Outlook task pane: the rep's open tasks (Write, Done, Skip) and, when a message is open,
 * its sender's campaigns and "add to campaign". No build step: plain browser JavaScript.
 *
 * Write opens Outlook's own compose form (read mode) or fills the draft being written (compose
 * mode, where displayNewMessageForm does not exist). Outlook never reports Send, so the task
 * completes when the rep clicks Done or when the server finds the message in Sent Items.
 */
(function () {
  "use strict";

  var API = "api";  // relative to /outlook/taskpane.html
  var READY_TIMEOUT_MS = 10000;
  var state = { config: null, token: null, mode: "none", sender: null, busy: {} };

  // --- small helpers ----------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  function show(id, visible) { $(id).hidden = !visible; }

  function notice(text, kind) {
    var el = $("notice");
    el.textContent = text;
    el.className = "notice " + (kind || "info");
    el.hidden = !text;
  }

  function stop(text) {
    // A final state: the pane cannot work here, and says why instead of spinning.
    show("loading", false);
    show("tasks", false);
    show("sender", false);
    notice(text, "error");
    document.body.setAttribute("data-state", "stopped");
  }

  function errorText(body, status) {
    if (body && body.errors && body.errors.length) {
      return body.errors.map(function (e) { return e.message; }).join("; ");
    }
    return "the server answered " + status;
  }

  function api(method, path, body) {
    var opts = { method: method, headers: { "Accept": "application/json" } };
    if (state.token) { opts.headers["Authorization"] = "Bearer " + state.token; }
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(API + path, opts).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (data) {
        if (!r.ok) {
          var err = new Error(errorText(data, r.status));
          err.status = r.status;
          throw err;
        }
        return data;
      });
    });
  }

  function asPromise(call) {
    // Office's callback style (AsyncResult) as a promise.
    return new Promise(function (resolve, reject) {
      call(function (result) {
        if (!result || result.status === "succeeded" ||
            (window.Office && Office.AsyncResultStatus &&
             result.status === Office.AsyncResultStatus.Succeeded)) {
          resolve(result && result.value);
        } else {
          reject(new Error((result.error && result.error.message) || "Outlook refused"));
        }
      });
    });
  }

  function supports(set, version) {
    try {
      return !!(Office.context.requirements &&
                Office.context.requirements.isSetSupported(set, version));
    } catch (e) {
      return false;
    }
  }

  // --- start ------------------------------------------------------------------------------

  function officeReady() {
    if (typeof window.Office === "undefined" || typeof Office.onReady !== "function") {
      return Promise.reject(new Error("office-missing"));
    }
    var timeout = new Promise(function (_, reject) {
      setTimeout(function () { reject(new Error("office-timeout")); }, READY_TIMEOUT_MS);
    });
    return Promise.race([Office.onReady(), timeout]);
  }

  function detectMode() {
    var mailbox = Office.context && Office.context.mailbox;
    var item = mailbox && mailbox.item;
    if (!item) { return "none"; }
    // In compose the subject is an object with getAsync/setAsync; in read it is a string.
    if (item.subject && typeof item.subject === "object" &&
        typeof item.subject.setAsync === "function") {
      return "compose";
    }
    return "read";
  }

  function start() {
    officeReady().then(function (info) {
      var outlook = window.Office && Office.HostType ? Office.HostType.Outlook : "Outlook";
      if (!info || info.host !== outlook || !Office.context || !Office.context.mailbox) {
        stop("This pane works inside Outlook. Open it from a message in Outlook.");
        return;
      }
      state.mode = detectMode();
      document.body.setAttribute("data-mode", state.mode);
      if (Office.context.mailbox.addHandlerAsync && Office.EventType &&
          Office.EventType.ItemChanged) {
        // A pinned pane stays open while the rep moves between messages.
        Office.context.mailbox.addHandlerAsync(Office.EventType.ItemChanged, function () {
          state.mode = detectMode();
          document.body.setAttribute("data-mode", state.mode);
          loadSender();
        });
      }
      api("GET", "/config").then(function (config) {
        state.config = config;
        return signIn();
      }).then(function (token) {
        state.token = token;
        // One call first: a first sign-in links the Microsoft account to the rep (a write),
        // which must not race the reads below.
        return api("GET", "/me");
      }).then(function (me) {
        document.body.setAttribute("data-rep", me.email);
        $("refresh").hidden = false;
        return Promise.all([loadTasks(), loadSender()]);
      }).catch(function (err) {
        stop("Could not sign in: " + err.message);
      });
    }, function (err) {
      if (err.message === "office-timeout") {
        stop("Outlook did not answer. Close and reopen the pane, or open it inside Outlook.");
      } else {
        stop("Office.js could not load, so this pane only works inside Outlook " +
             "(with access to appsforoffice.microsoft.com).");
      }
    });
  }

  // --- sign-in ----------------------------------------------------------------------------

  function signIn() {
    var config = state.config;
    if (config.dev_mode) {
      // Development mode: the server signs a token for the Outlook profile's address.
      return api("POST", "/dev/token", { email: Office.context.mailbox.userProfile.emailAddress })
        .then(function (r) { return r.access_token; });
    }
    if (supports("NestedAppAuth", "1.1") && window.msal) {
      return signInNaa(config);
    }
    return signInDialog(config);
  }

  function signInNaa(config) {
    return msal.createNestablePublicClientApplication({
      auth: { clientId: config.client_id, authority: config.authority },
      cache: { cacheLocation: "localStorage" }
    }).then(function (pca) {
      var request = { scopes: config.scopes,
                      loginHint: Office.context.mailbox.userProfile.emailAddress };
      return pca.acquireTokenSilent(request).catch(function () {
        return pca.acquireTokenPopup(request);
      });
    }).then(function (result) { return result.accessToken; });
  }

  function signInDialog(config) {
    // Fallback where nested app authentication is unavailable: a sign-in page in an Office
    // dialog (sign-in pages cannot be framed) that posts the token back with messageParent.
    return new Promise(function (resolve, reject) {
      Office.context.ui.displayDialogAsync(config.dialog_url, { height: 60, width: 30 },
        function (result) {
          if (result.status === "failed" ||
              (Office.AsyncResultStatus && result.status === Office.AsyncResultStatus.Failed)) {
            reject(new Error("the sign-in window could not open"));
            return;
          }
          var dialog = result.value;
          dialog.addEventHandler(Office.EventType.DialogMessageReceived, function (arg) {
            dialog.close();
            var message = {};
            try { message = JSON.parse(arg.message); } catch (e) { /* reported below */ }
            if (message.access_token) { resolve(message.access_token); }
            else { reject(new Error(message.error || "sign-in failed")); }
          });
          dialog.addEventHandler(Office.EventType.DialogEventReceived, function () {
            reject(new Error("the sign-in window was closed"));
          });
        });
    });
  }

  // --- tasks ------------------------------------------------------------------------------

  var TYPE_LABELS = { email: "Email", call: "Call", linkedin: "LinkedIn", custom: "Task" };

  function loadTasks() {
    // Email tasks already sent from Outlook complete first (found in Sent Items); a failure
    // there only means the list may still show them: Done works either way.
    return api("POST", "/sync-sent").catch(function () { return null; }).then(function () {
      return api("GET", "/tasks?mine=1");
    }).then(function (data) {
      show("loading", false);
      renderTasks(data.tasks);
    });
  }

  function personName(p) {
    var name = [p.first_name, p.last_name].filter(Boolean).join(" ");
    return name ? name + " <" + p.email + ">" : p.email;
  }

  function renderTasks(tasks) {
    var list = $("task-list");
    list.textContent = "";
    tasks.forEach(function (task) {
      var node = $("task-template").content.firstElementChild.cloneNode(true);
      node.setAttribute("data-task-id", String(task.id));
      node.querySelector(".type").textContent = TYPE_LABELS[task.type] || task.type;
      node.querySelector(".type").className = "type type-" + task.type;
      node.querySelector(".who").textContent = personName(task.person);
      node.querySelector(".due").textContent = "due " + (task.due_text || task.due_date);
      node.querySelector(".task-title").textContent = task.title;
      node.querySelector(".task-meta").textContent = task.campaign.name +
        (task.instructions ? " — " + task.instructions : "");
      var write = node.querySelector(".write");
      if (task.type === "email") {
        write.addEventListener("click", function () { writeTask(task, node); });
      } else {
        write.remove();
      }
      node.querySelector(".done").addEventListener("click", function () {
        if (task.type === "call") { finishCall(task, node); return; }
        finishTask(task, node, "complete");
      });
      node.querySelector(".skip").addEventListener("click", function () {
        finishTask(task, node, "skip");
      });
      list.appendChild(node);
    });
    $("task-count").textContent = tasks.length ? String(tasks.length) : "";
    show("no-tasks", tasks.length === 0);
    show("tasks", true);
  }

  function taskMessage(node, text, kind) {
    var el = node.querySelector(".task-msg");
    el.textContent = text;
    el.className = "task-msg " + (kind || "info");
  }

  // Done on a call first asks how it went and for a note; both go to Salesforce and the report.
  function finishCall(task, node) {
    var form = node.querySelector(".call-form");
    if (form.hidden) {
      form.hidden = false;
      node.querySelector(".outcome").focus();
      taskMessage(node, "Choose how the call went, then click Done again.", "info");
      return;
    }
    var outcome = node.querySelector(".outcome").value;
    if (!outcome) { taskMessage(node, "Choose how the call went first.", "error"); return; }
    finishTask(task, node, "complete", { outcome: outcome, note: node.querySelector(".note").value });
  }

  function finishTask(task, node, action, body) {
    if (state.busy[task.id]) { return; }  // a double click finishes it once
    state.busy[task.id] = true;
    node.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    api("POST", "/tasks/" + task.id + "/" + action, body).then(function () {
      node.remove();
      var left = $("task-list").children.length;
      $("task-count").textContent = left ? String(left) : "";
      show("no-tasks", left === 0);
      notice(action === "complete" ? "Task done." : "Task skipped.", "ok");
      loadSender();
    }).catch(function (err) {
      node.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      taskMessage(node, err.message, "error");
    }).then(function () { delete state.busy[task.id]; });
  }

  // --- Write: Outlook's native compose --------------------------------------------------------

  function refuseTooLong(email, limits) {
    if (email.subject.length > limits.subject) {
      return "The subject is " + email.subject.length + " characters; Outlook accepts at most " +
        limits.subject + ". Shorten it in the campaign, or write this email in the web app.";
    }
    if (email.html.length > limits.form_body) {
      return "This email is " + email.html.length + " characters of HTML; Outlook opens at " +
        "most " + limits.form_body + " (32 KB) in a new message. Nothing was cut: shorten " +
        "the template, or write this email in the web app.";
    }
    return null;
  }

  function isReplyTarget(item, reply) {
    // The open message is the one this reply answers.
    if (!item || !reply) { return false; }
    if (reply.message_id && item.internetMessageId === reply.message_id) { return true; }
    return !!(reply.thread_id && item.conversationId === reply.thread_id);
  }

  function openNewMessage(params) {
    var mailbox = Office.context.mailbox;
    if (supports("Mailbox", "1.9") && typeof mailbox.displayNewMessageFormAsync === "function") {
      return asPromise(function (cb) { mailbox.displayNewMessageFormAsync(params, cb); });
    }
    mailbox.displayNewMessageForm(params);
    return Promise.resolve();
  }

  function openReply(item, html) {
    if (supports("Mailbox", "1.9") && typeof item.displayReplyFormAsync === "function") {
      return asPromise(function (cb) { item.displayReplyFormAsync({ htmlBody: html }, cb); });
    }
    item.displayReplyForm({ htmlBody: html });
    return Promise.resolve();
  }

  function fillDraft(c) {
    var item = Office.context.mailbox.item;
    var html = (Office.CoercionType && Office.CoercionType.Html) || "html";
    return asPromise(function (cb) { item.to.setAsync([c.to], cb); })
      .then(function () { return asPromise(function (cb) { item.subject.setAsync(c.subject, cb); }); })
      .then(function () {
        return asPromise(function (cb) { item.body.setAsync(c.body_html, { coercionType: html }, cb); });
      });
  }

  // --- prompts: {{! one line about their industry }} is for the rep to replace ----------------

  var PROMPT = /\{\{\s*!([^}]*)\}\}/g;

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  // One input per distinct prompt, labelled with it; kept across clicks so nothing typed is lost.
  function promptForm(node, prompts) {
    var form = node.querySelector(".prompt-form");
    var seen = {};
    prompts.forEach(function (p) {
      if (seen[p]) { return; }
      seen[p] = true;
      if (form.querySelector('input[data-prompt="' + CSS.escape(p) + '"]')) { return; }
      var label = document.createElement("label");
      label.textContent = p;
      var input = document.createElement("input");
      input.type = "text";
      input.setAttribute("data-prompt", p);
      input.maxLength = 2000;
      label.appendChild(input);
      form.appendChild(label);
    });
    form.hidden = false;
    return form;
  }

  // The rep's text for every prompt, or null (and the first empty input focused) when one is
  // missing: Outlook's compose window must never show "{{! ... }}" to be sent as is.
  function promptAnswers(node, prompts) {
    var form = promptForm(node, prompts);
    var answers = {};
    var missing = null;
    form.querySelectorAll("input[data-prompt]").forEach(function (input) {
      var value = input.value.trim();
      if (!value && !missing) { missing = input; }
      answers[input.getAttribute("data-prompt")] = value;
    });
    if (missing) { missing.focus(); return null; }
    return answers;
  }

  function fillPrompts(c, answers) {
    function fill(text, html) {
      return (text || "").replace(PROMPT, function (whole, p) {
        var answer = answers[p.trim()];
        if (answer === undefined) { return whole; }
        return html ? escapeHtml(answer) : answer;
      });
    }
    var out = {};
    Object.keys(c).forEach(function (k) { out[k] = c[k]; });
    out.subject = fill(c.subject, false);
    out.body_html = fill(c.body_html, true);
    if (c.reply_body_html) { out.reply_body_html = fill(c.reply_body_html, true); }
    return out;
  }

  function writeTask(task, node) {
    if (state.busy[task.id]) { return; }
    state.busy[task.id] = true;
    taskMessage(node, "Opening…");
    api("GET", "/tasks/" + task.id + "/compose").then(function (c) {
      if (c.prompts && c.prompts.length) {
        var answers = promptAnswers(node, c.prompts);
        if (!answers) {
          var n = c.prompts.length;
          throw new Error("This email has " + (n === 1 ? "a prompt" : n + " prompts") +
            " ({{! … }}) for you to replace. Fill " + (n === 1 ? "it" : "them") +
            " in below, then click Write again: Outlook would show " +
            (n === 1 ? "it" : "them") + " as typed.");
        }
        c = fillPrompts(c, answers);
      }
      if (state.mode === "compose") {
        return fillDraft(c).then(function () {
          taskMessage(node, "Draft filled. Send it, then click Done.", "ok");
        });
      }
      if (state.mode !== "read" || typeof Office.context.mailbox.displayNewMessageForm !== "function") {
        throw new Error("Open a message (or a new draft) in Outlook, then click Write again.");
      }
      var item = Office.context.mailbox.item;
      if (c.reply_to && isReplyTarget(item, c.reply_to)) {
        var replyHtml = c.reply_body_html || c.body_html;
        var refused = refuseTooLong({ subject: "", html: replyHtml }, c.limits);
        if (refused) { throw new Error(refused); }
        return openReply(item, replyHtml).then(function () {
          taskMessage(node, "Reply opened. Send it, then click Done.", "ok");
        });
      }
      var refusal = refuseTooLong({ subject: c.subject, html: c.body_html }, c.limits);
      if (refusal) { throw new Error(refusal); }
      return openNewMessage({ toRecipients: [c.to], subject: c.subject, htmlBody: c.body_html })
        .then(function () {
          // Outlook does not say whether the window opened (pinned panes may drop the call).
          taskMessage(node, "Compose window opened. Send it, then click Done. Nothing opened? " +
                      "Click Write again.", "ok");
        });
    }).catch(function (err) {
      taskMessage(node, err.message, "error");
    }).then(function () { delete state.busy[task.id]; });
  }

  // --- the open message's sender ----------------------------------------------------------

  var LIVE = { active: 1, paused: 1 };
  var PENDING = { scheduled: 1, queued: 1, held: 1, sending: 1, unknown: 1, open: 1, planned: 1 };

  function senderAddress() {
    var item = Office.context.mailbox.item;
    if (state.mode !== "read" || !item || !item.from) { return null; }
    return item.from.emailAddress || null;
  }

  function loadSender() {
    var address = senderAddress();
    state.sender = address;
    if (!address || !state.token) { show("sender", false); return Promise.resolve(); }
    return Promise.all([
      api("GET", "/contacts?email=" + encodeURIComponent(address)),
      api("GET", "/campaigns")
    ]).then(function (results) {
      renderSender(results[0]);
      renderCampaigns(results[1].campaigns, results[0]);
    }).catch(function (err) {
      $("sender-status").textContent = err.message;
      show("sender", true);
    });
  }

  function renderSender(contact) {
    var box = $("sender-status");
    box.textContent = "";
    var head = document.createElement("p");
    head.className = "who";
    var name = Office.context.mailbox.item.from.displayName;
    head.textContent = name ? name + " <" + contact.email + ">" : contact.email;
    box.appendChild(head);
    if (contact.person && contact.person.unsubscribed) {
      var unsub = document.createElement("p");
      unsub.className = "badge badge-stop";
      unsub.textContent = "Unsubscribed: never emailed again";
      box.appendChild(unsub);
    }
    if (!contact.enrollments.length) {
      var none = document.createElement("p");
      none.className = "muted";
      none.textContent = "In none of your campaigns.";
      box.appendChild(none);
    }
    var list = document.createElement("ul");
    list.className = "enrollments";
    contact.enrollments.forEach(function (e) {
      var li = document.createElement("li");
      var title = document.createElement("div");
      title.innerHTML = "<strong></strong> <span class=\"badge\"></span>";
      title.querySelector("strong").textContent = e.campaign_name;
      title.querySelector(".badge").textContent = e.status;
      title.querySelector(".badge").className = "badge badge-" + (LIVE[e.status] ? "live" : "stop");
      li.appendChild(title);
      var next = e.steps.filter(function (s) { return PENDING[s.status]; })[0];
      var why = document.createElement("div");
      why.className = "muted";
      why.textContent = next ? "Step " + (next.position + 1) + " (" + next.type + "): " +
        next.reason : (e.stop_reason || "all steps done");
      li.appendChild(why);
      if (next && next.status === "held" && next.send_id) { li.appendChild(heldFix(next.send_id)); }
      list.appendChild(li);
    });
    box.appendChild(list);
    show("sender", true);
  }

  // --- a held email: fill the missing fields and send, send the default text, or skip ---------

  function textOf(html) {
    // DOMParser runs no script and loads nothing: the text of the email as it would go.
    return new DOMParser().parseFromString(html || "", "text/html").body.textContent.trim();
  }

  function heldFix(sendId) {
    var box = document.createElement("div");
    box.className = "held-fix";
    var open = document.createElement("button");
    open.type = "button";
    open.className = "fix";
    open.textContent = "Fix this email";
    open.addEventListener("click", function () {
      open.disabled = true;
      api("GET", "/sends/" + sendId).then(function (send) {
        renderHeldFix(box, sendId, send.held || { missing_fields: [] });
      }).catch(function (err) {
        open.disabled = false;
        notice(err.message, "error");
      });
    });
    box.appendChild(open);
    return box;
  }

  function button(text, cls) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (cls) { b.className = cls; }
    return b;
  }

  function renderHeldFix(box, sendId, held) {
    box.textContent = "";
    var msg = document.createElement("div");
    msg.className = "task-msg";
    msg.setAttribute("role", "status");
    var inputs = held.missing_fields.map(function (name) {
      var label = document.createElement("label");
      label.textContent = name;
      var input = document.createElement("input");
      input.maxLength = 200;
      input.setAttribute("data-fill", name);
      label.appendChild(input);
      box.appendChild(label);
      return input;
    });
    var release = button("Save and send", "primary");
    var defaults = button("Send with the default text");
    var skip = button("Skip this step");
    var shown = document.createElement("p");
    shown.className = "muted default-text";
    shown.textContent = "Default text: " + textOf(held.default_body_html);
    var link = document.createElement("a");
    link.href = "../sends/" + sendId;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "Open in the web app";
    var actions = document.createElement("div");
    actions.className = "task-actions";
    [release, defaults, skip].forEach(function (b) { actions.appendChild(b); });
    box.appendChild(actions);
    box.appendChild(shown);
    box.appendChild(link);
    box.appendChild(msg);

    function act(path, body, done) {
      [release, defaults, skip].forEach(function (b) { b.disabled = true; });
      api("POST", "/sends/" + sendId + path, body).then(function () {
        notice(done, "info");
        loadSender();
      }).catch(function (err) {
        [release, defaults, skip].forEach(function (b) { b.disabled = false; });
        msg.textContent = err.message;
      });
    }
    release.addEventListener("click", function () {
      var fields = {};
      inputs.forEach(function (input) { fields[input.getAttribute("data-fill")] = input.value; });
      act("/release", { fields: fields }, "Saved: the email goes now.");
    });
    defaults.addEventListener("click", function () {
      act("/release", { use_defaults: true }, "The email goes now with the default text.");
    });
    skip.addEventListener("click", function () {
      act("/skip", undefined, "Step skipped: the next step follows.");
    });
  }

  function renderCampaigns(campaigns, contact) {
    var select = $("add-campaign");
    select.textContent = "";
    var live = {};
    contact.enrollments.forEach(function (e) { if (LIVE[e.status]) { live[e.campaign_id] = 1; } });
    var offered = campaigns.filter(function (c) { return !live[c.id]; });
    offered.forEach(function (c) {
      var option = document.createElement("option");
      option.value = String(c.id);
      option.textContent = c.name;
      option.setAttribute("data-first-send-at", c.first_send_at);
      select.appendChild(option);
    });
    var unsubscribed = contact.person && contact.person.unsubscribed;
    show("add-form", offered.length > 0 && !unsubscribed);
    updateTimeRow();
  }

  function updateTimeRow() {
    var option = $("add-campaign").selectedOptions[0];
    var need = option ? option.getAttribute("data-first-send-at") : "none";
    show("add-time-row", need === "required" || need === "optional");
    $("add-time").required = need === "required";
    $("add-time-need").textContent = need === "required" ? "(required)" : "(optional)";
  }

  function addToCampaign(event) {
    event.preventDefault();
    var campaignId = $("add-campaign").value;
    var from = Office.context.mailbox.item.from;
    var parts = (from.displayName || "").trim().split(/\s+/);
    var person = { email: from.emailAddress };
    if (parts[0] && parts[0].indexOf("@") < 0) {
      person.first_name = parts[0];
      person.last_name = parts.slice(1).join(" ");
    }
    var body = { people: [person] };
    var when = $("add-time").value;
    if (!$("add-time-row").hidden && when) {
      body.first_send_at = new Date(when).toISOString();  // the rep's local time, as UTC
    }
    $("add-submit").disabled = true;
    api("POST", "/campaigns/" + campaignId + "/launch", body).then(function (r) {
      if (r.skipped.length) {
        notice("Not added: " + r.skipped[0].reason + ".", "error");
      } else {
        notice("Added to " + $("add-campaign").selectedOptions[0].textContent + ".", "ok");
      }
      return Promise.all([loadSender(), loadTasks()]);
    }).catch(function (err) {
      notice("Not added: " + err.message, "error");
    }).then(function () { $("add-submit").disabled = false; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("add-campaign").addEventListener("change", updateTimeRow);
    $("add-form").addEventListener("submit", addToCampaign);
    $("refresh").addEventListener("click", function () {
      notice("");
      loadTasks();
      loadSender();
    });
    start();
  });
})();
