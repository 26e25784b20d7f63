"""Log in to a live server through its login form, as a browser does, and return the session cookie.

The login form is allauth's (/accounts/login/): /admin/login/ only redirects anonymous visitors there,
so a POST to it answers 302 without logging anyone in.
"""

from __future__ import annotations

import re

import requests


def login_session(origin: str, username: str, password: str) -> str:
    """The ``sessionid`` cookie's value after a successful login at ``origin``."""
    http = requests.Session()
    login_url = f"{origin}/accounts/login/"
    form = http.get(login_url, timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert csrf, form.text[:500]
    response = http.post(
        login_url,
        data={"login": username, "password": password, "csrfmiddlewaretoken": csrf.group(1), "next": "/"},
        headers={"Referer": login_url},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    return str(http.cookies["sessionid"])
