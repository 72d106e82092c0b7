"""The deliverability guard: hard-bounce circuit breakers per mailbox, per sending domain and
per campaign (breakers.py), the emails that tell the rep and the admins (notify.py)."""
