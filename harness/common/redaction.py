"""Passwords out of URLs and messages before they are printed or logged."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


# --------------------------------------------------------------------------- redaction
def redact_url(url: str | None) -> str | None:
    """`scheme://user:secret@host/db` -> `scheme://user:***@host/db`; other text unchanged."""
    if not url or "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}:***@{netloc[1]}"))


def redact_text(text: str, *urls: str | None) -> str:
    """Remove the passwords of `urls` from free text (error messages, logs)."""
    for url in urls:
        if url and "://" in url:
            password = urlsplit(url).password
            if password:
                text = text.replace(password, "***")
    return text
