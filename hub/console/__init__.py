"""The operator console: its static page (``static/``) and the read endpoints it needs."""
