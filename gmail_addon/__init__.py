"""The Gmail add-on (Google Workspace add-on, HTTP runtime): card builders and responses.

Everything here is pure: data in, card JSON out. The Flask endpoints that call these builders
live in `addin_server/web/gmail.py`.
"""
