"""The project's settings with the status page benchmark's URLs (the constant floor view added)."""

from devops_insights.settings import *  # noqa: F403

ROOT_URLCONF = "_status_page_urls"
