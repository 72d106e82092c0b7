"""CRM sync (Salesforce): the `Crm` port (port.py), the Salesforce adapter (salesforce.py), the
sync rows written with local changes (outbox.py), pushing them (push.py), pulling Task changes
(pull.py) and the periodic sweep (sweep.py). Their RQ jobs are in workers/crm.py.
"""
