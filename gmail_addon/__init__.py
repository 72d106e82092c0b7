"""The Gmail add-on: card builders (pure functions: data in, card JSON out).

Google Workspace add-on on the HTTP runtime. The Flask endpoints that call these builders live
in `addin_server/addins/gmail/` (routes.py, message.py).
"""
