/* Sign-in in an Office dialog (the fallback when nested app authentication is unavailable).
 * Redirect flow with MSAL.js; the redirect URI is this page. The token goes back to the pane. */
(function () {
  "use strict";

  function reply(message) {
    Office.context.ui.messageParent(JSON.stringify(message));
  }

  function run() {
    fetch("api/config").then(function (r) { return r.json(); }).then(function (config) {
      var pca = new msal.PublicClientApplication({
        auth: { clientId: config.client_id, authority: config.authority,
                redirectUri: config.dialog_url },
        cache: { cacheLocation: "sessionStorage" }
      });
      return pca.initialize().then(function () {
        return pca.handleRedirectPromise();
      }).then(function (result) {
        if (result && result.accessToken) {
          reply({ access_token: result.accessToken });
          return;
        }
        return pca.acquireTokenRedirect({ scopes: config.scopes });
      });
    }).catch(function (err) {
      document.getElementById("status").textContent = "Sign-in failed: " + err.message;
      reply({ error: String(err.message || err) });
    });
  }

  if (typeof window.Office === "undefined") {
    document.getElementById("status").textContent = "Open this page from the Outlook add-in.";
  } else {
    Office.onReady(run);
  }
})();
