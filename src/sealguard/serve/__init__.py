"""`sealguard serve`: the live dashboard, a JSON API and Prometheus metrics over the governed
project's log, read only. app.py routes; reading.py is one look at the log, history.py the
observations' index; api.py, metrics.py, report_page.py and page.py (with static/) answer;
auth.py says who may connect; server.py runs uvicorn."""
