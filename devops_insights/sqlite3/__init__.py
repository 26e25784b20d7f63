"""The SQLite database backend (``ENGINE = "devops_insights.sqlite3"``): see ``base``."""
