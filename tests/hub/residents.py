"""Households and notices made through a hub's API, for the tests that need some."""

from typing import Any

import httpx


async def household(client: httpx.AsyncClient, name: str, location: str) -> Any:
    """Register a household through the API; return it as the API shows it (with its token)."""
    response = await client.post("/api/v1/households", json={"name": name, "location": location})
    assert response.status_code == 201, response.text
    return response.json()


async def send_notice(
    client: httpx.AsyncClient, category: str, title: str, body: str, **audience: Any
) -> Any:
    """Send a notice through the API; return it as the API shows it.

    ``audience`` is the notice's scope and what the scope needs (``building`` or
    ``household_ids``).
    """
    notice = {**audience, "category": category, "title": title, "body": body}
    response = await client.post("/api/v1/notices", json=notice)
    assert response.status_code == 201, response.text
    return response.json()
