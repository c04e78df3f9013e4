"""A page of another origin opened by a signed-in operator cannot act with the console's
session: SameSite=Strict keeps the cookie from other sites, but another port of the hub's host
(a Grafana beside it) or a sibling subdomain is the same site; the hub takes a change made
with the cookie only from its own pages (``hub.auth.rules.from_own_page``). Found by an
outside review, which had such a page acknowledge an SOS case, rotate a household's link and
post a scam note to the household as the operator.
"""

import http.server
import threading

import httpx
import pytest
from playwright.sync_api import Browser

from linli.brokers import free_port
from tests.console.test_console_residents_browser import (  # noqa: F401 (the hub fixture)
    hub,
    signed_in,
)
from tests.residents.test_phone_page_browser import Hub

ATTACK = """<!doctype html><title>community newsletter</title><body>
<script>
(async () => {
  const hub = "%(hub)s";
  const opts = {method: "POST", mode: "no-cors", credentials: "include"};
  // the hub's Cross-Origin-Resource-Policy makes each fetch reject on the way back, after
  // the hub has done what it was asked: the attacker needs no answer
  const send = (url, o) => fetch(url, o).catch(() => null);
  // 1. acknowledge the household's SOS case: escalation stops, nobody was told
  await send(hub + "/api/v1/cases/%(case_id)s/acknowledge", opts);
  // 2. rotate the household's page token: the SOS link on grandma's phone stops working
  await send(hub + "/api/v1/households/%(household_id)s/token", opts);
  // 3. a note to the household, shown on its phone page as the operator's
  const form = new FormData();
  form.append("note", "Plumber fee 300 yuan, pay by WeChat to 13800000000 before the visit");
  await send(hub + "/api/v1/requests/%(request_id)s/updates", {...opts, body: form});
  document.title = "done";
})();
</script></body>"""


def serve(html: str) -> tuple[http.server.ThreadingHTTPServer, int]:
    port = free_port()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


def setup_victims(hub: Hub) -> dict[str, object]:  # noqa: F811
    home = hub.call(
        "POST", "/api/v1/households", json={"name": "Zhao", "location": "Building 3/Unit 1/1201"}
    )
    link = home["link"]
    # Grandma presses SOS on her phone page: an open SOS case
    page_url = f"{hub.url}{link}" if link.startswith("/") else link
    sos = httpx.post(f"{page_url}/sos", timeout=10).json()
    assert sos["case_id"] is not None
    opened = hub.call(
        "POST",
        "/api/v1/requests",
        json={"household_id": home["id"], "category": "repair", "text": "leaking pipe"},
    )
    return {
        "household_id": home["id"],
        "page_url": page_url,
        "case_id": sos["case_id"],
        "request_id": opened["request"]["id"],
    }


@pytest.mark.parametrize("attacker_host", ["127.0.0.1", "localhost"])
def test_a_page_of_another_origin_cannot_act_as_the_signed_in_operator(
    hub: Hub,  # noqa: F811
    browser: Browser,
    attacker_host: str,
) -> None:
    # 127.0.0.1 on another port is the same site as the hub (SameSite sends the cookie);
    # localhost is another site. Neither may change anything with the operator's session.
    v = setup_victims(hub)
    server, port = serve(ATTACK % {"hub": hub.url, **v})
    try:
        errors: list[str] = []
        page = signed_in(browser, hub, errors)  # operator signed in at http://127.0.0.1:<hub>
        attack = page.context.new_page()
        attack.goto(f"http://{attacker_host}:{port}/newsletter")
        attack.wait_for_function("document.title === 'done'")
    finally:
        server.shutdown()
        server.server_close()

    case = hub.call("GET", f"/api/v1/cases/{v['case_id']}")
    request = hub.call("GET", f"/api/v1/requests/{v['request_id']}")
    assert case["status"] == "open"
    assert httpx.get(str(v["page_url"]), timeout=10).status_code == 200
    assert not any("WeChat" in (u.get("note") or "") for u in request["updates"])
    # The operator's own console still acts with the same session.
    acknowledged = page.evaluate(
        """async (id) => (await fetch(`/api/v1/cases/${id}/acknowledge`,
               {method: "POST"})).status""",
        v["case_id"],
    )
    assert acknowledged == 200
