"""Fake providers for tests: small WSGI apps on 127.0.0.1 that the real client libraries
(google-api-python-client, google-auth, google-auth-oauthlib, msal, PyJWT, requests) talk to,
speaking each provider's wire format. One fake per provider:

- `google.GoogleFake`: OAuth (consent + token endpoint), OpenID Connect (signed ID tokens, the
  certificates URL) and the Gmail API; `sign()` / `make_signing_key()` for the ID tokens Google
  sends the Gmail add-on.
- `microsoft.MicrosoftFake`: an Entra-like authority (msal's endpoints, the tenants' signing
  keys, access tokens for our API) and Graph mail.
- `salesforce.FakeSalesforce`: OAuth and the REST API the CRM sync uses.
- `provider.FakeProvider`: a fault-injecting mailbox, fast, for the send pipeline's tests and
  bench/ (MAILBOX_FACTORY=tests.fakes.provider:open_fake, also from worker processes).
- `smtp`: an SMTP relay that keeps what it receives.

`server.serve()` runs any of them (or a Flask app) in a thread, over HTTP or TLS; `tls` makes the
self-signed certificates; `mail` is what a recipient sees (threads, headers), shared by the
mail fakes. Use them through the fixtures in `tests/fakes/fixtures.py` (loaded by
tests/conftest.py): `google_fake`, `microsoft_fake`, `smtp_fake`, `fake_tls`, ...

The mail fakes keep every mailbox in memory (`fake.mailbox(address)`), deliver what is sent to
the recipient's mailbox, and expose `recipient_view(address)` so that a test asserts what the
person would see: the threads (grouped by References, as a mail client does), the headers, the
quoted body.
"""
