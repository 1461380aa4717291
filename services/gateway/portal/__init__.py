"""The portal: server-rendered pages (Jinja2, zh-CN) on the gateway's port, for people signed in
with their accounts. Pages call the same RPCs as the REST API with the same principal, so the
portal can do nothing the API refuses. How to add a page: docs/portal.md."""
