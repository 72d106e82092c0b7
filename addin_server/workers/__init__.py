"""The processes' side of the domain: every RQ entry point (a function RQ imports by its dotted
path, taking ids only) and the worker runtime, and the dispatcher process's periodic duties.

- runtime.py     the runtime every job of the process runs with (install_runtime, worker_runtime)
- send.py        send_email: one due send (sending/job.py does the work)
- crm.py         the Salesforce jobs, their enqueueing, and the CRM outbox's after-commit hand-off
- polls.py       poll_mailbox: reply detection for one mailbox, and its throttled enqueueing
- sent_items.py  sync_sent_items: the Sent-items completion pass, and its scheduling
- duties.py      the periodic duties of `addin-server dispatch`, listed in one place
- dispatch.py    the dispatcher process's pass: the due duties, then the send pipeline's pass
- worker.py      SendWorker, the RQ worker class of `addin-server worker`
"""
