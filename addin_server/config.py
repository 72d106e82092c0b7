"""Settings: one frozen dataclass, read from the environment only when asked.

Nothing here runs at import time: `create_app(settings)` and the CLI call `Settings.from_env()`.
Every external endpoint is a setting so that tests point the real client libraries at fakes on
127.0.0.1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

DEV_SECRET_KEY = "dev-not-secret"


class ConfigError(RuntimeError):
    """A setting the service cannot run without is missing or wrong; the message says which."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str | None, default: int) -> int:
    return int(value) if value not in (None, "") else default


def _float(value: str | None, default: float) -> float:
    return float(value) if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from outside. Defaults suit a local development run."""

    database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    instance_path: str = "instance"
    # Signs sessions, unsubscribe links and OAuth state. No default: outside DEV_MODE a process
    # without one refuses to start (see `require_secrets`), since a built-in key would let anyone
    # forge a session cookie.
    secret_key: str = ""
    # Fernet keys (url-safe base64, 32 bytes). The first encrypts; all decrypt (rotation).
    encryption_keys: tuple[str, ...] = ()
    public_base_url: str = "http://127.0.0.1:5000"
    queue_name: str = "sends"
    dev_mode: bool = False
    max_request_bytes: int = 8 * 1024 * 1024
    max_people_per_launch: int = 10_000
    # A CSV launch above max_people_per_launch goes on in the background (202), up to this.
    max_people_per_background_launch: int = 200_000
    # Name servers the launch's optional MX check asks ("host:port" list; empty = the
    # system's resolver configuration). Tests point it at a local fake DNS server.
    mx_nameservers: tuple[str, ...] = ()
    mx_timeout_seconds: float = 3.0
    # Mailboxes
    default_mailbox_provider: str = "local"
    google_client_id: str = ""
    google_client_secret: str = ""
    google_auth_uri: str = "https://accounts.google.com/o/oauth2/auth"
    google_token_uri: str = "https://oauth2.googleapis.com/token"
    google_revoke_uri: str = "https://oauth2.googleapis.com/revoke"
    gmail_api_endpoint: str = "https://gmail.googleapis.com"
    microsoft_client_id: str = ""
    microsoft_client_secret: str = ""
    microsoft_authority: str = "https://login.microsoftonline.com/common"
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    # Gmail add-on
    gmail_addon_audience: str = ""
    gmail_addon_service_account: str = ""
    gmail_addon_oauth_client_id: str = ""
    google_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"
    # Outlook add-in
    outlook_api_audience: str = ""
    outlook_allowed_tenants: tuple[str, ...] = ()
    microsoft_jwks_url: str = "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
    microsoft_issuer: str = "https://login.microsoftonline.com/{tenant}/v2.0"
    # Salesforce
    salesforce_client_id: str = ""
    salesforce_client_secret: str = ""
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_api_version: str = "v62.0"
    # "module:function" building every Mailbox adapter instead of the provider's (tests, bench).
    mailbox_factory: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Outlook add-in: the delegated scope our API exposes (the `scp` a pane token must carry),
    # and the app registration the pane's MSAL.js signs in with (defaults to the API's own).
    outlook_api_scope: str = "access_as_user"
    outlook_client_id: str = ""
    # Send pipeline (see docs/sending.md). A claimed send holds a lease this long; RQ's job
    # timeout is below it, so a lease only expires when its worker is gone.
    send_lease_seconds: int = 300
    send_job_timeout_seconds: int = 120
    # Every fixed-id RQ job (addin_server/jobs.py): its worker holds a lease this long, renewed
    # while it runs; a job whose worker died frees its id within it. The Salesforce sync's rows
    # are leased by the job that claims them for crm_lease_seconds.
    job_lease_seconds: int = 60
    crm_lease_seconds: int = 300
    # A send whose outcome is unknown is looked up in Sent items after this grace period
    # (providers file the Sent copy asynchronously).
    reconcile_grace_seconds: float = 120.0
    # A `queued` row older than this whose RQ job is gone is enqueued again.
    requeue_after_seconds: float = 60.0
    send_retry_base_seconds: float = 30.0
    send_retry_max_seconds: float = 3600.0
    send_max_attempts: int = 10
    dispatch_batch_size: int = 200
    # Mailboxes (Gmail / Microsoft Graph adapters and the connect flows)
    # A CA bundle to trust for the Microsoft authority and Graph ("" = the system's); tests
    # point it at the fake's self-signed certificate.
    microsoft_ca_bundle: str = ""
    mailbox_http_timeout: float = 30.0
    # Pacing defaults written on a newly connected mailbox, under the providers' documented
    # limits: Gmail 2,000/day on Workspace, 500/day on trial and consumer accounts; Exchange
    # Online 30 messages/minute and 10,000 recipients/day.
    gmail_daily_cap: int = 450
    gmail_min_gap_seconds: int = 20
    microsoft_daily_cap: int = 2000
    microsoft_min_gap_seconds: int = 5
    graph_max_concurrency: int = 4
    # Deliverability guard: the hard-bounce circuit breakers (guard/breakers.py). A mailbox
    # pauses at `guard_mailbox_rate` of its last `guard_mailbox_window` sends, or at
    # `guard_mailbox_burst` bounces among its last `guard_mailbox_burst_window`; a campaign
    # stops starting people at `guard_campaign_rate` once `guard_campaign_min_sample` first
    # emails went; a sending domain pauses at `guard_domain_rate` over `guard_domain_hours`
    # across the organisation's mailboxes once `guard_domain_min_sample` sends were made.
    # `guard_cooloff_hours` > 0 releases a tripped mailbox after that long, its daily cap
    # lowered to `guard_cooloff_cap`; 0 = only a person releases it.
    guard_mailbox_rate: float = 0.05
    guard_mailbox_window: int = 100
    guard_mailbox_burst: int = 3
    guard_mailbox_burst_window: int = 20
    guard_campaign_rate: float = 0.08
    guard_campaign_min_sample: int = 50
    guard_domain_rate: float = 0.03
    guard_domain_hours: float = 24.0
    guard_domain_min_sample: int = 100
    guard_cooloff_hours: float = 0.0
    guard_cooloff_cap: int = 20
    # A burst of `guard_burst_count` bounce reports from one provider within
    # `guard_burst_minutes` is held for review instead of ending enrollments.
    guard_burst_count: int = 5
    guard_burst_minutes: float = 10.0
    # Ramp-up of a newly connected Gmail / Microsoft mailbox: `ramp_first_cap` emails on its
    # first day, `ramp_step` more each day, up to its daily cap. A step of 0 turns it off.
    ramp_first_cap: int = 20
    ramp_step: int = 5
    # Rep absence (guard/absence.py): how often each rep's vacation responder is read, when
    # the organisation reads it.
    absence_check_seconds: int = 900
    # Sender authentication check (guard/authcheck.py): another TXT lookup, "module:function"
    # (tests), and DKIM selectors to look up instead of the provider's defaults.
    dns_txt_resolver: str = ""
    dkim_selectors: tuple[str, ...] = ()
    # Email to reps about their mailbox (e.g. it was disconnected), through a relay of the
    # operator's: "smtp://user:password@host:587" (STARTTLS when offered), "smtps://..." (TLS),
    # "" = no such emails.
    smtp_url: str = ""
    mail_from: str = ""
    # Web app: the rep that the development one-click sign-in uses (only when dev_mode is on),
    # and a CA bundle to trust for Google's OAuth endpoints ("" = the system's; tests point it
    # at a local fake's self-signed certificate).
    demo_rep_email: str = "demo@example.com"
    google_ca_bundle: str = ""
    # Salesforce sync: the sandbox login host, HTTP timeout (s), the Task field holding our key
    # (an External ID field enables upsert), the prefix of our keys (one per installation),
    # how often changed Tasks are pulled (s), and the RQ queue ("" = queue_name).
    salesforce_sandbox_login_url: str = "https://test.salesforce.com"
    salesforce_timeout: float = 20.0
    salesforce_key_field: str = "Campaign_Sync_Key__c"
    salesforce_key_prefix: str = "as"
    salesforce_poll_seconds: int = 120
    crm_queue_name: str = ""
    # Replies (reply detection). The poll runs at most this often per mailbox; push, when
    # configured, triggers it at once (the poll stays as the fallback).
    reply_poll_seconds: int = 300
    # Gmail users.watch: the Pub/Sub topic ("projects/P/topics/T"; "" = no push) and the
    # token the push subscription's endpoint URL carries (?token=...).
    gmail_pubsub_topic: str = ""
    push_token: str = ""
    # Graph change notifications: our public HTTPS base for /push/graph ("" = no push).
    graph_notification_base_url: str = ""
    # Gmail add-on: how often the dispatcher queues a look at Sent items for email tasks the
    # reps sent from Gmail.
    sent_sync_seconds: int = 300

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        # One line per setting: a table, not logic.
        env = dict(os.environ if environ is None else environ)
        d = cls()
        instance = env.get("INSTANCE_PATH", str(Path.cwd() / "instance"))
        keys = tuple(k for k in env.get("ENCRYPTION_KEYS", "").split(",") if k.strip())
        return cls(
            database_url=env.get("DATABASE_URL", ""),
            redis_url=env.get("REDIS_URL", d.redis_url),
            instance_path=instance,
            secret_key=env.get("SECRET_KEY", "").strip(),
            encryption_keys=keys,
            public_base_url=env.get("PUBLIC_BASE_URL", d.public_base_url).rstrip("/"),
            queue_name=env.get("QUEUE_NAME", d.queue_name),
            dev_mode=_bool(env.get("DEV_MODE")),
            max_request_bytes=_int(env.get("MAX_REQUEST_BYTES"), d.max_request_bytes),
            max_people_per_launch=_int(env.get("MAX_PEOPLE_PER_LAUNCH"),
                                       d.max_people_per_launch),
            max_people_per_background_launch=_int(env.get("MAX_PEOPLE_PER_BACKGROUND_LAUNCH"),
                                                  d.max_people_per_background_launch),
            default_mailbox_provider=env.get("DEFAULT_MAILBOX_PROVIDER", "local"),
            google_client_id=env.get("GOOGLE_CLIENT_ID", ""),
            google_client_secret=env.get("GOOGLE_CLIENT_SECRET", ""),
            google_auth_uri=env.get("GOOGLE_AUTH_URI", d.google_auth_uri),
            google_token_uri=env.get("GOOGLE_TOKEN_URI", d.google_token_uri),
            google_revoke_uri=env.get("GOOGLE_REVOKE_URI", d.google_revoke_uri),
            gmail_api_endpoint=env.get("GMAIL_API_ENDPOINT", d.gmail_api_endpoint),
            microsoft_client_id=env.get("MICROSOFT_CLIENT_ID", ""),
            microsoft_client_secret=env.get("MICROSOFT_CLIENT_SECRET", ""),
            microsoft_authority=env.get("MICROSOFT_AUTHORITY", d.microsoft_authority),
            graph_base_url=env.get("GRAPH_BASE_URL", d.graph_base_url).rstrip("/"),
            gmail_addon_audience=env.get("GMAIL_ADDON_AUDIENCE", ""),
            gmail_addon_service_account=env.get("GMAIL_ADDON_SERVICE_ACCOUNT", ""),
            gmail_addon_oauth_client_id=env.get("GMAIL_ADDON_OAUTH_CLIENT_ID", ""),
            google_certs_url=env.get("GOOGLE_CERTS_URL", d.google_certs_url),
            outlook_api_audience=env.get("OUTLOOK_API_AUDIENCE", ""),
            outlook_allowed_tenants=tuple(
                t for t in env.get("OUTLOOK_ALLOWED_TENANTS", "").split(",") if t.strip()
            ),
            microsoft_jwks_url=env.get("MICROSOFT_JWKS_URL", d.microsoft_jwks_url),
            microsoft_issuer=env.get("MICROSOFT_ISSUER", d.microsoft_issuer),
            salesforce_client_id=env.get("SALESFORCE_CLIENT_ID", ""),
            salesforce_client_secret=env.get("SALESFORCE_CLIENT_SECRET", ""),
            salesforce_login_url=env.get("SALESFORCE_LOGIN_URL", d.salesforce_login_url),
            salesforce_api_version=env.get("SALESFORCE_API_VERSION", d.salesforce_api_version),
            mailbox_factory=env.get("MAILBOX_FACTORY", ""),
            outlook_api_scope=env.get("OUTLOOK_API_SCOPE", d.outlook_api_scope),
            outlook_client_id=env.get("OUTLOOK_CLIENT_ID", ""),
            send_lease_seconds=_int(env.get("SEND_LEASE_SECONDS"), d.send_lease_seconds),
            send_job_timeout_seconds=_int(env.get("SEND_JOB_TIMEOUT_SECONDS"),
                                          d.send_job_timeout_seconds),
            job_lease_seconds=_int(env.get("JOB_LEASE_SECONDS"), d.job_lease_seconds),
            crm_lease_seconds=_int(env.get("CRM_LEASE_SECONDS"), d.crm_lease_seconds),
            reconcile_grace_seconds=_float(env.get("RECONCILE_GRACE_SECONDS"),
                                           d.reconcile_grace_seconds),
            requeue_after_seconds=_float(env.get("REQUEUE_AFTER_SECONDS"),
                                         d.requeue_after_seconds),
            send_retry_base_seconds=_float(env.get("SEND_RETRY_BASE_SECONDS"),
                                           d.send_retry_base_seconds),
            send_retry_max_seconds=_float(env.get("SEND_RETRY_MAX_SECONDS"),
                                          d.send_retry_max_seconds),
            send_max_attempts=_int(env.get("SEND_MAX_ATTEMPTS"), d.send_max_attempts),
            dispatch_batch_size=_int(env.get("DISPATCH_BATCH_SIZE"), d.dispatch_batch_size),
            microsoft_ca_bundle=env.get("MICROSOFT_CA_BUNDLE", ""),
            mailbox_http_timeout=float(env.get("MAILBOX_HTTP_TIMEOUT") or d.mailbox_http_timeout),
            mx_nameservers=tuple(s.strip() for s in (env.get("MX_NAMESERVERS") or "").split(",")
                                 if s.strip()),
            mx_timeout_seconds=_float(env.get("MX_TIMEOUT_SECONDS"), d.mx_timeout_seconds),
            gmail_daily_cap=_int(env.get("GMAIL_DAILY_CAP"), d.gmail_daily_cap),
            gmail_min_gap_seconds=_int(env.get("GMAIL_MIN_GAP_SECONDS"), d.gmail_min_gap_seconds),
            microsoft_daily_cap=_int(env.get("MICROSOFT_DAILY_CAP"), d.microsoft_daily_cap),
            microsoft_min_gap_seconds=_int(env.get("MICROSOFT_MIN_GAP_SECONDS"),
                                           d.microsoft_min_gap_seconds),
            graph_max_concurrency=_int(env.get("GRAPH_MAX_CONCURRENCY"),
                                       d.graph_max_concurrency),
            guard_mailbox_rate=_float(env.get("GUARD_MAILBOX_RATE"), d.guard_mailbox_rate),
            guard_mailbox_window=_int(env.get("GUARD_MAILBOX_WINDOW"), d.guard_mailbox_window),
            guard_mailbox_burst=_int(env.get("GUARD_MAILBOX_BURST"), d.guard_mailbox_burst),
            guard_mailbox_burst_window=_int(env.get("GUARD_MAILBOX_BURST_WINDOW"),
                                            d.guard_mailbox_burst_window),
            guard_campaign_rate=_float(env.get("GUARD_CAMPAIGN_RATE"), d.guard_campaign_rate),
            guard_campaign_min_sample=_int(env.get("GUARD_CAMPAIGN_MIN_SAMPLE"),
                                           d.guard_campaign_min_sample),
            guard_domain_rate=_float(env.get("GUARD_DOMAIN_RATE"), d.guard_domain_rate),
            guard_domain_hours=_float(env.get("GUARD_DOMAIN_HOURS"), d.guard_domain_hours),
            guard_domain_min_sample=_int(env.get("GUARD_DOMAIN_MIN_SAMPLE"),
                                         d.guard_domain_min_sample),
            guard_cooloff_hours=_float(env.get("GUARD_COOLOFF_HOURS"), d.guard_cooloff_hours),
            guard_cooloff_cap=_int(env.get("GUARD_COOLOFF_CAP"), d.guard_cooloff_cap),
            guard_burst_count=_int(env.get("GUARD_BURST_COUNT"), d.guard_burst_count),
            guard_burst_minutes=_float(env.get("GUARD_BURST_MINUTES"), d.guard_burst_minutes),
            ramp_first_cap=_int(env.get("RAMP_FIRST_CAP"), d.ramp_first_cap),
            ramp_step=_int(env.get("RAMP_STEP"), d.ramp_step),
            absence_check_seconds=_int(env.get("ABSENCE_CHECK_SECONDS"),
                                       d.absence_check_seconds),
            dns_txt_resolver=env.get("DNS_TXT_RESOLVER", ""),
            dkim_selectors=tuple(s.strip() for s in env.get("DKIM_SELECTORS", "").split(",")
                                 if s.strip()),
            smtp_url=env.get("SMTP_URL", ""),
            mail_from=env.get("MAIL_FROM", ""),
            demo_rep_email=env.get("DEMO_REP_EMAIL", d.demo_rep_email),
            google_ca_bundle=env.get("GOOGLE_CA_BUNDLE", ""),
            salesforce_sandbox_login_url=env.get(
                "SALESFORCE_SANDBOX_LOGIN_URL", d.salesforce_sandbox_login_url).rstrip("/"),
            salesforce_timeout=float(env.get("SALESFORCE_TIMEOUT") or d.salesforce_timeout),
            salesforce_key_field=env.get("SALESFORCE_KEY_FIELD", d.salesforce_key_field),
            salesforce_key_prefix=env.get("SALESFORCE_KEY_PREFIX", d.salesforce_key_prefix),
            salesforce_poll_seconds=_int(env.get("SALESFORCE_POLL_SECONDS"),
                                         d.salesforce_poll_seconds),
            crm_queue_name=env.get("CRM_QUEUE_NAME", ""),
            reply_poll_seconds=_int(env.get("REPLY_POLL_SECONDS"), d.reply_poll_seconds),
            gmail_pubsub_topic=env.get("GMAIL_PUBSUB_TOPIC", ""),
            push_token=env.get("PUSH_TOKEN", ""),
            graph_notification_base_url=env.get("GRAPH_NOTIFICATION_BASE_URL", "").rstrip("/"),
            sent_sync_seconds=_int(env.get("SENT_SYNC_SECONDS"), d.sent_sync_seconds),
        )

    def require_secrets(self) -> Settings:
        """These settings with their secrets checked: fail closed, never fall back to a default.

        Outside DEV_MODE a missing SECRET_KEY or ENCRYPTION_KEYS raises ConfigError. In DEV_MODE
        a missing SECRET_KEY becomes a fixed development key (the local service only).
        """
        if self.dev_mode:
            return self if self.secret_key else replace(self, secret_key=DEV_SECRET_KEY)
        if not self.secret_key:
            raise ConfigError("SECRET_KEY is not set: set it to a long random value "
                              "(python -c 'import secrets; print(secrets.token_hex(32))'), "
                              "or DEV_MODE=1 for local development")
        if self.secret_key == DEV_SECRET_KEY:
            raise ConfigError("SECRET_KEY is the development key: set a long random value")
        if not self.encryption_keys:
            raise ConfigError("ENCRYPTION_KEYS is not set: set it to a Fernet key (python -c "
                              "'from cryptography.fernet import Fernet; "
                              "print(Fernet.generate_key().decode())')")
        for key in self.encryption_keys:
            try:
                Fernet(key.strip().encode())
            except ValueError:
                raise ConfigError("ENCRYPTION_KEYS holds a value that is not a Fernet key "
                                  "(32 url-safe base64-encoded bytes)") from None
        return self

    @property
    def effective_database_url(self) -> str:
        """SQLite in the instance folder unless DATABASE_URL names another database."""
        if self.database_url:
            url = self.database_url
            # Heroku-style URLs name the driver-less scheme; we use psycopg 3.
            if url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            elif url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{Path(self.instance_path) / 'addin_server.sqlite3'}"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)
