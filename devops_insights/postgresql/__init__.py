"""The PostgreSQL database backend (``ENGINE = "devops_insights.postgresql"``): see ``base``."""
