/* A small stand-in for Office.js in the browser tests: the parts of the Outlook API the task
 * pane uses, recording every call in window.__officeCalls. Configured by window.__officeSetup
 * (set before this script runs):
 *   mode: "read" | "compose" | "none"; host: "Outlook" (default) or null (outside Office);
 *   user: the Outlook profile address; from/fromName/internetMessageId/conversationId: the
 *   open message (read mode); sets: {Mailbox: "1.8", NestedAppAuth: ...}; dialogMessage: what
 *   the sign-in dialog posts back (dialog fallback).
 */
(function () {
  "use strict";
  var cfg = window.__officeSetup || {};
  var calls = window.__officeCalls = [];
  function ok(value) { return { status: "succeeded", value: value }; }
  function copy(value) { return value === undefined ? null : JSON.parse(JSON.stringify(value)); }
  function record(method, args, extra) {
    var entry = { method: method, args: copy(args) };
    if (extra !== undefined) { entry.options = copy(extra); }
    calls.push(entry);
  }
  function atLeast(have, want) {
    var a = String(have).split("."), b = String(want).split(".");
    for (var i = 0; i < Math.max(a.length, b.length); i++) {
      var x = parseInt(a[i] || "0", 10), y = parseInt(b[i] || "0", 10);
      if (x !== y) { return x > y; }
    }
    return true;
  }
  var sets = cfg.sets || { Mailbox: "1.8" };

  var item = null;
  if (cfg.mode === "read") {
    item = {
      itemType: "message",
      subject: cfg.subject || "Question about pricing",
      from: { emailAddress: cfg.from, displayName: cfg.fromName || "" },
      internetMessageId: cfg.internetMessageId || "<other@example.test>",
      conversationId: cfg.conversationId || "conv-other",
      displayReplyForm: function (p) { record("displayReplyForm", p); },
      displayReplyFormAsync: function (p, cb) { record("displayReplyFormAsync", p); cb(ok()); }
    };
  } else if (cfg.mode === "compose") {
    item = {
      itemType: "message",
      to: { setAsync: function (v, cb) { record("to.setAsync", v); cb(ok()); } },
      subject: {
        setAsync: function (v, cb) { record("subject.setAsync", v); cb(ok()); },
        getAsync: function (cb) { cb(ok("")); }
      },
      body: { setAsync: function (v, o, cb) { record("body.setAsync", v, o); cb(ok()); } }
    };
  }

  var mailbox = {
    item: item,
    userProfile: { emailAddress: cfg.user, displayName: "Ann" },
    addHandlerAsync: function (type, handler, cb) {
      (window.__officeHandlers = window.__officeHandlers || {})[type] = handler;
      if (cb) { cb(ok()); }
    }
  };
  if (cfg.mode !== "compose") {
    // As in Outlook's host scripts: these exist in read mode only.
    mailbox.displayNewMessageForm = function (p) { record("displayNewMessageForm", p); };
    mailbox.displayNewMessageFormAsync = function (p, cb) {
      record("displayNewMessageFormAsync", p);
      if (cb) { cb(ok()); }
    };
  }

  window.Office = {
    HostType: { Outlook: "Outlook" },
    AsyncResultStatus: { Succeeded: "succeeded", Failed: "failed" },
    CoercionType: { Html: "html", Text: "text" },
    EventType: { ItemChanged: "olkItemSelectedChanged",
                 DialogMessageReceived: "dialogMessageReceived",
                 DialogEventReceived: "dialogEventReceived" },
    onReady: function (cb) {
      var info = { host: cfg.host === undefined ? "Outlook" : cfg.host, platform: "OfficeOnline" };
      if (cb) { setTimeout(function () { cb(info); }, 0); }
      return Promise.resolve(info);
    },
    context: {
      mailbox: mailbox,
      requirements: {
        isSetSupported: function (name, version) {
          return sets[name] !== undefined && atLeast(sets[name], version || "1.1");
        }
      },
      ui: {
        displayDialogAsync: function (url, options, cb) {
          record("displayDialogAsync", url, options);
          var handlers = {};
          var dialog = {
            addEventHandler: function (type, h) { handlers[type] = h; },
            close: function () { record("dialog.close", null); }
          };
          cb(ok(dialog));
          setTimeout(function () {
            handlers.dialogMessageReceived({ message: cfg.dialogMessage || "{}" });
          }, 0);
        }
      }
    }
  };
})();
