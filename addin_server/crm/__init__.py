"""CRM sync (Salesforce): the `Crm` port (base.py), the Salesforce adapter (salesforce.py), the
sync rows written with local changes (outbox.py) and the jobs that push and pull them (sync.py).
"""
