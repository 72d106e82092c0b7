"""Fake Google and Microsoft servers for tests: small WSGI apps on 127.0.0.1 that the real client
libraries (google-api-python-client, google-auth, google-auth-oauthlib, msal, requests) talk to.

Use them through the fixtures in `tests/fakes/fixtures.py` (loaded by tests/conftest.py):

- `google_fake` -> GoogleFake: OAuth (consent + token endpoint) and the Gmail API.
- `microsoft_fake` -> MicrosoftFake: an Entra-like authority over TLS (self-signed) and Graph mail.

Both keep every mailbox in memory (`fake.mailbox(address)`), deliver what is sent to the
recipient's mailbox, and expose `recipient_view(address)` so that a test asserts what the person
would see: the threads (grouped by References, as a mail client does), the headers, the quoted body.
"""
