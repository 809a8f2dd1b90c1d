"""`sealguard serve`: the live dashboard, a JSON API and Prometheus metrics over the governed
project's log, read only (app.py routes, api.py, metrics.py, page.py, auth.py, server.py)."""
