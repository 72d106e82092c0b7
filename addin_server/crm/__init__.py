"""CRM sync (Salesforce): the `Crm` port (base.py), the Salesforce adapter (salesforce.py), the
sync rows written with local changes (outbox.py), pushing them (push.py), pulling Task changes
(pull.py), the periodic sweep (sweep.py) and the RQ jobs (jobs.py).
"""
