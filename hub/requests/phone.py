"""The household's phone page ``/r/<token>``: one-touch SOS (and "it was a mistake" once sent),
report a problem, follow it, rate it.

The page is one self-contained HTML document (its style sheet, its words and its script,
``static/``, are inlined: nothing is fetched from elsewhere, as before this page grew).
Everything it shows comes from the household's own routes (``hub.residents.page`` for SOS,
``hub.requests.resident`` for requests), in Chinese or English (a switch).
The token stays in the path.
"""

import html
import re
from functools import cache
from importlib import resources

from hub.requests.rules import MAX_TEXT


@cache
def _asset(name: str) -> str:
    """Return one of the page's own files (``static/``), read once."""
    return resources.files("hub.requests").joinpath("static", name).read_text(encoding="utf-8")


def render_phone_page(
    name: str,
    stage: str,
    status_text: tuple[str, str, str],
    case_id: int | None = None,
    zone: str = "Asia/Shanghai",
) -> str:
    """Return the page's HTML for household ``name`` whose latest SOS (case ``case_id``, if
    any: what "it was a mistake" takes back) is at ``stage``, shown (also without script) as
    ``status_text``: Chinese, English, colour. The colour is the script's to set: the page's
    Content-Security-Policy allows no inline style attribute. ``zone``: the community's time
    zone, in which the page tells every time (``data-zone``), never the phone's own."""
    zh, en, _colour = (html.escape(part) for part in status_text)
    values = {
        "name": html.escape(name),
        "stage": html.escape(stage),
        "case": "" if case_id is None else str(int(case_id)),
        "zone": html.escape(zone),
        "max_text": str(MAX_TEXT),
        "zh": zh,
        "en": en,
        # Last: the style sheet and the script are ours, never filled in themselves.
        "css": _asset("phone.css"),
        "words": _asset("phone_words.js"),
        "js": _asset("phone.js"),
    }
    return re.sub(r"@@(\w+)@@", lambda m: values[m.group(1)], _PAGE)


_PAGE = """<!doctype html>
<html lang="zh">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>邻里 · @@name@@</title>
<style>
@@css@@</style>
</head>
<body data-stage="@@stage@@" data-case="@@case@@" data-zone="@@zone@@" data-max-text="@@max_text@@">
<header>
  <h1>@@name@@</h1>
  <button id="lang" type="button" aria-label="Language / 语言">EN</button>
</header>
<main>
<p id="offline" role="alert" data-t="offline" hidden></p>
<section id="home">
  <ul id="notices" aria-label="通知 Notices"></ul>
  <button id="sos" type="button" aria-label="SOS 紧急求助" aria-describedby="status">SOS<small
  data-t="sos_small"></small></button>
  <div id="sos-confirm" role="alertdialog" aria-labelledby="sos-left sos-ask" hidden>
    <p><strong id="sos-left" aria-live="assertive"></strong>
    <span id="sos-ask" data-t="sos_ask"></span></p>
    <div class="row">
      <button type="button" id="sos-cancel" data-t="cancel"></button>
      <button type="button" id="sos-go" class="danger" data-t="sos_go"></button>
    </div>
  </div>
  <div id="status" role="status" aria-live="assertive">
    <strong id="zh" lang="zh">@@zh@@</strong><span id="en" lang="en">@@en@@</span>
  </div>
  <div id="sos-failed" class="row" hidden>
    <button type="button" id="sos-retry" class="danger" data-t="sos_retry"></button>
    <a id="sos-call" class="button" href="tel:120" data-t="sos_call"></a>
  </div>
  <div id="withdraw" hidden>
    <button type="button" id="sos-withdraw" class="big" data-t="withdraw"></button>
    <div id="withdraw-confirm" role="alertdialog" aria-labelledby="withdraw-ask" hidden>
      <p id="withdraw-ask" data-t="withdraw_ask"></p>
      <div class="row">
        <button type="button" id="withdraw-no" data-t="withdraw_no"></button>
        <button type="button" id="withdraw-yes" class="primary" data-t="withdraw_yes"></button>
      </div>
    </div>
    <p id="withdraw-failed" role="alert" hidden></p>
  </div>
  <button id="new" type="button" class="big" data-t="report"></button>
  <h2 data-t="mine"></h2>
  <ul id="list" aria-live="polite"></ul>
  <p id="empty" data-t="none" hidden></p>
</section>
<section id="form-view" hidden>
  <h2 data-t="report"></h2>
  <form id="report" enctype="multipart/form-data">
    <fieldset id="categories">
      <legend data-t="what"></legend>
    </fieldset>
    <label><span data-t="describe"></span>
      <textarea name="text" rows="3" maxlength="@@max_text@@" required></textarea></label>
    <label class="photo"><span data-t="photos"></span>
      <input name="photos" type="file" accept="image/*" capture="environment" multiple></label>
    <div id="previews"></div>
    <label><span data-t="when"></span>
      <select name="window"></select></label>
    <p id="form-error" role="alert" hidden></p>
    <div class="row">
      <button type="button" id="cancel" data-t="cancel"></button>
      <button type="submit" id="send" class="primary" data-t="send"></button>
    </div>
  </form>
</section>
<section id="detail-view" hidden>
  <button type="button" id="back" data-t="back"></button>
  <div id="detail"></div>
</section>
</main>
<script>
@@words@@</script>
<script>
@@js@@</script>
</body>
</html>
"""
