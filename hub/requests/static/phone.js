// The household's phone page: SOS, report a problem, follow it, rate it. Chinese or English.
(function () {
  "use strict";
  var T = window.LINLI_WORDS; // phone_words.js
  var CATEGORIES = ["repair", "utilities", "sanitation", "noise", "elevator", "hazard", "other"];
  var STAGES = ["received", "assigned", "visit_planned", "in_progress", "done"];
  var SOS_COLOURS = {none: "#5b6770", sending: "#5b6770", failed: "#8e0000",
    received: "#9a5b00", case_opened: "#c62828", acknowledged: "#1565c0", resolved: "#2e7d32",
    withdrawn: "#37474f"};
  // Stages whose case may still be taken back ("it was a mistake"): sent, not yet resolved.
  var WITHDRAWABLE = ["received", "case_opened", "acknowledged"];
  var SOS_TIMEOUT_MS = 15000, SOS_COUNTDOWN_S = 5, REPORT_TIMEOUT_MS = 90000;
  var base = window.location.pathname.replace(/\/$/, "");
  // Every time is the community's (its site's zone, from the hub), never the phone's own: a
  // phone set to another zone must not move a visit, or "tomorrow morning", by hours.
  var ZONE = document.body.dataset.zone || "Asia/Shanghai";
  // The longest text the hub takes (a report, a rating's comment): the box stops there.
  var MAX_TEXT = document.body.dataset.maxText || "2000";
  var lang = (window.localStorage && localStorage.getItem("linli-lang")) || "zh";
  var sosStage = document.body.dataset.stage || "none";
  var sosCase = document.body.dataset["case"] ? Number(document.body.dataset["case"]) : null;
  // The take-back's own states: idle, confirm (asked "are you sure?"), sending, failed.
  var withdrawing = "idle", withdrawDetail = null;
  var requests = [], notices = [], expanded = {}, openId = null;

  function t(key) { return (T[lang] && T[lang][key]) || T.en[key] || key; }
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "className") { node.className = attrs[k]; }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function when(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", {timeZone: ZONE,
      month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
  }
  // What the community's clocks read at the instant ``ms``, as if it were UTC (``d`` its parts).
  function zoneWall(ms, d) {
    var p = d || {};
    new Intl.DateTimeFormat("en-US", {timeZone: ZONE, hourCycle: "h23", year: "numeric",
      month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric"})
      .formatToParts(new Date(ms)).forEach(function (x) { p[x.type] = Number(x.value); });
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  }
  // The instant the community's clocks read ``hour``:00, ``days`` after today there.
  function zoneTime(days, hour) {
    var d = {}; zoneWall(Date.now(), d);
    var wall = Date.UTC(d.year, d.month - 1, d.day + days, hour), guess = wall - (zoneWall(wall) - wall);
    return wall - (zoneWall(guess) - Math.floor(guess / 1000) * 1000);
  }

  // "sending" and "failed" are the page's own: until the hub has answered a press, nothing
  // may read as sent, and a polled stage must not paper over a press that did not arrive.
  function showSos(stage, caseId) {
    sosStage = stage;
    if (caseId !== undefined) { sosCase = caseId; }
    $("zh").textContent = T.zh["sos_" + stage] || T.zh.sos_none;
    $("en").textContent = T.en["sos_" + stage] || T.en.sos_none;
    $("status").style.background = SOS_COLOURS[stage] || SOS_COLOURS.none;
    $("sos-failed").hidden = stage !== "failed";
    $("sos").disabled = stage === "sending";
    renderWithdraw();
  }

  // "I'm OK, it was a mistake": offered from the hub's word that an SOS was sent until its case
  // is resolved or the take-back reached the hub. It reads as told only when the hub says
  // ``withdrawn``; until then "telling the staff…", and "not told" when it did not get there.
  function renderWithdraw() {
    var offered = sosCase !== null && WITHDRAWABLE.indexOf(sosStage) >= 0;
    if (!offered && withdrawing !== "sending") { withdrawing = "idle"; }
    $("withdraw").hidden = !offered && withdrawing !== "sending";
    var button = $("sos-withdraw");
    button.disabled = withdrawing === "sending";
    button.textContent = withdrawing === "sending" ? t("withdraw_sending") : t("withdraw");
    button.setAttribute("aria-expanded", String(withdrawing === "confirm"));
    $("withdraw-confirm").hidden = withdrawing !== "confirm";
    var failed = $("withdraw-failed");
    failed.hidden = withdrawing !== "failed";
    var known = withdrawDetail && [404, 429].indexOf(withdrawDetail.status) >= 0;
    say(failed, t("withdraw_failed") + (known ? " " + refusal(withdrawDetail) : ""), withdrawDetail);
    failed.hidden = withdrawing !== "failed";
  }

  // A fetch that gives up after ``ms``: on a dead mobile line a request can hang for minutes.
  function fetchWithin(url, options, ms) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, ms) : null;
    if (controller) { options.signal = controller.signal; }
    return fetch(url, options).then(function (res) { clearTimeout(timer); return res; },
      function (error) { clearTimeout(timer); throw error; });
  }

  // A refusal as the hub gave it: its status and its JSON ``detail`` (a sentence, or FastAPI's
  // list of field errors), the detail null when the answer was not ours (a proxy's HTML page).
  function answerOf(res) {
    function answer(b) {
      return {status: res.status, detail: b.detail === undefined ? null : b.detail, code: b.code || null};
    }
    return res.text().then(function (body) {
      try { return answer(JSON.parse(body) || {}); } catch (e) { return answer({}); }
    }, function () { return answer({}); });
  }
  // Which sentence a refusal reads as: the hub's ``code`` for a refusal of its own, else the
  // field of a form it could not take (FastAPI's ``loc``, and ``type``), never its English.
  function codeOf(answer) {
    if (answer.code) { return answer.code; }
    var error = Array.isArray(answer.detail) ? answer.detail[0] || {} : {};
    var field = String(((error.loc || []).slice(1).filter(function (p) { return typeof p === "string"; })[0]) || "");
    if (/^photo/.test(field)) { return "bad_photo"; }
    if (field === "text") { return error.type === "string_too_short" ? "need_text" : "text_long"; }
    return field === "comment" ? "comment_long" : null;
  }
  function reasonOf(detail) {
    return typeof detail === "string" ? detail : !Array.isArray(detail) ? "" : detail.map(
      function (e) { return ((e && e.loc) || []).slice(1).join(".") + ": " + (e && e.msg); }).join("; ");
  }
  // What the resident reads of a refusal: a plain sentence chosen by the status and the
  // refusal's code (``codeOf``); ``unsent`` when it reads as not arrived (5xx, 408, not our answer).
  function refusal(answer, unsent) {
    var status = answer.status;
    var key = {404: "gone", 429: "busy", 413: "too_big"}[status];
    if (key) { return t(key); }
    if (status >= 500 || status === 408 || answer.detail === null) { return t(unsent); }
    var code = codeOf(answer);
    return t(code && T.en[code] ? code : "refused");
  }
  // The hub's own words, in English, kept: a small line under the sentence, for whoever helps.
  function say(node, sentence, answer) {
    var reason = answer ? reasonOf(answer.detail) : "";
    node.textContent = sentence;
    if (reason) { node.appendChild(el("small", {className: "reason"}, [
      document.createTextNode(t("reason")), el("span", {lang: "en", text: reason})])); }
    node.hidden = false;
  }

  function translate() {
    document.documentElement.lang = lang;
    $("lang").textContent = lang === "zh" ? "EN" : "中文";
    Array.prototype.forEach.call(document.querySelectorAll("[data-t]"), function (node) {
      node.textContent = t(node.dataset.t);
    });
    var fieldset = $("categories");
    Array.prototype.forEach.call(fieldset.querySelectorAll("label"), function (l) { l.remove(); });
    CATEGORIES.forEach(function (c, i) {
      var input = el("input", {type: "radio", name: "category", value: c});
      if (i === 0) { input.required = true; }
      fieldset.appendChild(el("label", {className: "chip" + (c === "hazard" ? " hazard" : "")},
        [input, el("span", {text: t(c)})]));
    });
    fillWindows();
    renderList();
    renderNotices();
    renderWithdraw();
    if (openId !== null) { renderDetail(find(openId)); }
  }

  function windowOf(key) {
    var spans = {today_pm: [0, 14, 18], tonight: [0, 18, 21], tomorrow_am: [1, 8, 12],
      tomorrow_pm: [1, 14, 18]};
    if (!spans[key]) { return null; }
    var s = spans[key];
    return [s[1], s[2]].map(function (h) { return new Date(zoneTime(s[0], h)).toISOString(); });
  }

  // Only the windows still ahead: "this afternoon" offered at 19:00 would be refused by the
  // hub (the window is over), and the resident would have to guess why.
  function fillWindows() {
    var select = document.querySelector("select[name=window]");
    var chosen = select.value;
    select.textContent = "";
    ["any", "today_pm", "tonight", "tomorrow_am", "tomorrow_pm"].forEach(function (k) {
      var span = windowOf(k);
      if (span && new Date(span[1]).getTime() <= Date.now()) { return; }
      select.appendChild(el("option", {value: k, text: t(k)}));
    });
    if (chosen && select.querySelector("option[value=" + chosen + "]")) { select.value = chosen; }
  }

  function chip(stage) {
    return el("span", {className: "stage stage-" + stage, text: t(stage)});
  }

  function renderList() {
    var list = $("list");
    list.textContent = "";
    $("empty").hidden = requests.length > 0;
    requests.forEach(function (r) {
      var item = el("li", {className: "card", tabindex: "0", role: "button", "data-id": String(r.id)}, [
        el("div", {className: "card-head"}, [
          el("strong", {text: t(r.category)}), chip(r.stage)]),
        el("p", {text: r.text}),
        el("small", {text: when(r.created_at)})
      ]);
      item.addEventListener("click", function () { open(r.id); });
      activateByKey(item);
      list.appendChild(item);
    });
  }

  function renderNotices() {
    var box = $("notices");
    box.textContent = "";
    notices.forEach(function (n) {
      var body = el("p", {className: "notice-body", text: n.body});
      body.hidden = Boolean(n.read_at) && !expanded[n.id];
      var item = el("li", {className: "notice notice-" + n.category + (n.read_at ? "" : " unread"),
        tabindex: "0", role: "button", "aria-expanded": String(!body.hidden), "data-id": String(n.id)}, [
        el("div", {className: "card-head"}, [
          el("strong", {text: n.title}),
          n.read_at ? el("small", {text: t(n.category)}) : el("span", {className: "badge", text: t("unread")})]),
        body,
        el("small", {text: when(n.created_at)})
      ]);
      item.addEventListener("click", function () {
        expanded[n.id] = true;
        body.hidden = false;
        item.setAttribute("aria-expanded", "true");
        if (!n.read_at) {
          fetch(base + "/notices/" + n.id + "/read", {method: "POST"})
            .then(function (res) { return res.ok ? res.json() : null; })
            .then(function (read) { if (read) { n.read_at = read.read_at; renderNotices(); } });
        }
      });
      activateByKey(item);
      box.appendChild(item);
    });
  }

  // Enter or Space on a focused card opens it, as a tap does (keyboards, switch access).
  function activateByKey(node) {
    node.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); node.click(); }
    });
  }

  function loadNotices() {
    return fetch(base + "/notices", {cache: "no-store"})
      .then(function (res) { linkGone(res); return res.ok ? res.json() : null; })
      .then(function (body) { if (body) { notices = body.items; renderNotices(); } }, function () {});
  }

  function find(id) { return requests.filter(function (r) { return r.id === id; })[0]; }

  function progress(stage) {
    var at = STAGES.indexOf(stage);
    return el("ol", {className: "progress"}, STAGES.map(function (s, i) {
      return el("li", {className: i < at ? "past" : (i === at ? "now" : ""), text: t(s)});
    }));
  }

  function photoStrip(r, phase) {
    var photos = r.photos.filter(function (p) { return p.phase === phase; });
    if (!photos.length) { return null; }
    return el("div", {className: "photos"}, photos.map(function (p) {
      var url = base + "/requests/" + r.id + "/";
      return el("a", {href: url + p.path, target: "_blank"},
        [el("img", {src: url + p.thumbnail_path, alt: t(r.category), loading: "lazy"})]);
    }));
  }

  function ratingForm(r) {
    var form = el("form", {id: "rating", className: "rating"});
    form.appendChild(el("h3", {text: t("rate")}));
    var stars = el("div", {className: "stars", role: "radiogroup", "aria-label": t("rate")});
    [1, 2, 3, 4, 5].forEach(function (n) {
      var input = el("input", {type: "radio", name: "score", value: String(n),
        id: "star" + n, required: "required", "aria-label": n + "★ " + t("scores")[n - 1]});
      stars.appendChild(input);
      stars.appendChild(el("label", {"for": "star" + n, "aria-hidden": "true", text: "★"}));
    });
    form.appendChild(stars);
    form.appendChild(el("p", {className: "hint", text: t("score_hint")}));
    form.appendChild(el("textarea", {name: "comment", rows: "2", maxlength: MAX_TEXT,
      placeholder: t("comment")}));
    if (r.not_fixed_until) {
      form.appendChild(el("label", {className: "check"},
        [el("input", {type: "checkbox", name: "not_fixed"}), el("span", {text: t("not_fixed") +
          "（" + t("until") + " " + when(r.not_fixed_until) + "）"})]));
    }
    var problem = el("p", {className: "error", role: "alert", hidden: "hidden"});
    form.appendChild(problem);
    var send = el("button", {type: "submit", className: "primary", text: t("submit_rating")});
    form.appendChild(send);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var body = {score: Number(data.get("score")), comment: data.get("comment") || null,
        fixed: !data.get("not_fixed")};
      problem.hidden = true;
      send.disabled = true;
      send.textContent = t("sending");
      function notSent(answer) {
        send.disabled = false;
        send.textContent = t("submit_rating");
        say(problem, answer ? refusal(answer, "rating_not_sent") : t("rating_not_sent"), answer);
      }
      fetchWithin(base + "/requests/" + r.id + "/rating", {method: "POST",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)},
        REPORT_TIMEOUT_MS)
        .then(function (res) {
          if (!res.ok) { return answerOf(res).then(notSent); }
          return refresh();
        }, function () { notSent(null); });
    });
    return form;
  }

  function renderDetail(r) {
    var box = $("detail");
    box.textContent = "";
    if (!r) { return; }
    var facts = el("dl", {});
    function fact(key, value) {
      if (!value) { return; }
      facts.appendChild(el("dt", {text: t(key)}));
      facts.appendChild(el("dd", {text: value}));
    }
    fact("with_whom", r.assigned.map(function (a) { return a.name + " · " + t(a.role); }).join(", "));
    fact("visit", when(r.visit_at));
    if (r.preferred_from) { fact("preferred", when(r.preferred_from) + " – " + when(r.preferred_until)); }
    box.appendChild(el("div", {className: "card-head"}, [
      el("h2", {text: t(r.category)}), r.priority === "high" ? el("span", {className: "stage high", text: t("high")}) : null]));
    box.appendChild(progress(r.stage));
    box.appendChild(el("p", {className: "text", text: r.text}));
    box.appendChild(photoStrip(r, "report") || el("span"));
    box.appendChild(facts);
    if (r.updates.length) {
      box.appendChild(el("h3", {text: t("notes")}));
      box.appendChild(el("ul", {className: "updates"}, r.updates.map(function (u) {
        return el("li", {}, [el("small", {text: when(u.ts) + " · " + byWhom(u.by)}),
          el("p", {text: u.note || (t("visit") + " " + when(u.visit_at))})]);
      })));
    }
    box.appendChild(photoStrip(r, "after") || el("span"));
    if (r.rating) {
      box.appendChild(el("p", {className: "rated",
        text: t("thanks") + " · " + "★★★★★".slice(0, r.rating.score) + (r.rating.comment ? " · " + r.rating.comment : "")}));
    } else if (r.can_rate) {
      box.appendChild(ratingForm(r));
    }
  }

  // The hub names a note's writer "Zhang · maintenance": the role is said in the page's words.
  function byWhom(by) {
    var at = (by || "").lastIndexOf(" · "), role = at < 0 ? "" : by.slice(at + 3);
    var known = /^(maintenance|property|grid_worker|security|volunteer)$/.test(role);
    return by === "staff" ? t(by) : known ? by.slice(0, at) + " · " + t(role) : by;
  }

  function show(view) {
    ["home", "form-view", "detail-view"].forEach(function (id) { $(id).hidden = id !== view; });
    window.scrollTo(0, 0);
  }
  function open(id) { openId = id; renderDetail(find(id)); show("detail-view"); }

  function refresh() {
    return fetch(base + "/requests", {cache: "no-store"})
      .then(function (res) { linkGone(res); return res.ok ? res.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        // Drawn again only when changed: a rating half typed, or a refusal, outlasts the refresh.
        var shown = JSON.stringify(find(openId));
        requests = body.items;
        renderList();
        if (openId !== null && JSON.stringify(find(openId)) !== shown) { renderDetail(find(openId)); }
      }, function () {});
  }

  // A 404 from the household's routes (its link replaced) is said so, never "no network".
  function linkGone(res) {
    var banner = $("offline"), key = res.status === 404 ? "gone" : "offline";
    if (banner.dataset.t !== key) { banner.dataset.t = key; banner.textContent = t(key); }
    if (res.status === 404) { banner.hidden = false; }
  }

  function fail(message) { var p = $("form-error"); p.textContent = message; p.hidden = false; }

  $("lang").addEventListener("click", function () {
    lang = lang === "zh" ? "en" : "zh";
    try { localStorage.setItem("linli-lang", lang); } catch (e) { /* private mode */ }
    translate();
  });
  // A tap calls for help after a short countdown that a Cancel stops (a pocket, a child): a
  // resident who can only tap once is still heard, which a "confirm?" question would not do.
  // Another tap on the circle meanwhile changes nothing; "Call now" does not wait.
  var countdown = null;
  function stopCountdown() {
    if (countdown !== null) { clearInterval(countdown); countdown = null; }
    $("sos-confirm").hidden = true;
  }
  function showCountdown(left) { $("sos-left").textContent = String(left); }
  $("sos").addEventListener("click", function () {
    if (countdown !== null || sosStage === "sending") { return; }
    var left = SOS_COUNTDOWN_S;
    showCountdown(left);
    $("sos-confirm").hidden = false;
    $("sos-cancel").focus();
    countdown = setInterval(function () {
      left -= 1;
      if (left <= 0) { sendSos(); } else { showCountdown(left); }
    }, 1000);
  });
  $("sos-cancel").addEventListener("click", function () { stopCountdown(); $("sos").focus(); });
  function sendSos() {
    stopCountdown();
    withdrawing = "idle";
    showSos("sending");
    fetchWithin(base + "/sos", {method: "POST"}, SOS_TIMEOUT_MS)
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (s) {
        if (s && s.stage !== "none") { showSos(s.stage, s.case_id); } else { showSos("failed"); }
      }, function () { showSos("failed"); });
  }
  [$("sos-go"), $("sos-retry")].forEach(function (b) { b.addEventListener("click", sendSos); });
  // Taking back is not urgent, so unlike the SOS it asks "are you sure?": a second, deliberate
  // tap. It only tells the staff; the case stays open until they have called back.
  $("sos-withdraw").addEventListener("click", function () {
    if (withdrawing === "sending") { return; }
    withdrawing = "confirm";
    withdrawDetail = null;
    renderWithdraw();
    $("withdraw-no").focus();
  });
  $("withdraw-no").addEventListener("click", function () {
    withdrawing = "idle";
    renderWithdraw();
    $("sos-withdraw").focus();
  });
  $("withdraw-yes").addEventListener("click", function () {
    if (withdrawing !== "confirm" || sosCase === null) { return; }
    withdrawing = "sending";
    renderWithdraw();
    function notTold(detail) { withdrawing = "failed"; withdrawDetail = detail; renderWithdraw(); }
    fetchWithin(base + "/sos/" + sosCase + "/withdraw", {method: "POST"}, SOS_TIMEOUT_MS)
      .then(function (res) {
        if (res.ok) {
          return res.json().then(function (s) { withdrawing = "idle"; showSos(s.stage, s.case_id); },
            function () { notTold(null); });
        }
        // 409: the case was resolved meanwhile; the hub's status says so.
        if (res.status === 409) { withdrawing = "idle"; return pollStatus(); }
        return answerOf(res).then(notTold);
      }, function () { notTold(null); });
  });
  // One id per report, kept until it is sent: a double tap, or a send retried after the
  // answer was lost, is the same request on the hub, never a second one.
  var submission = null;
  function newSubmission() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  $("new").addEventListener("click", function () {
    $("form-error").hidden = true;
    if (!submission) { submission = newSubmission(); }
    fillWindows();
    show("form-view");
  });
  $("cancel").addEventListener("click", function () { show("home"); });
  $("back").addEventListener("click", function () { openId = null; show("home"); });
  document.querySelector("input[name=photos]").addEventListener("change", function (event) {
    var box = $("previews");
    box.textContent = "";
    var files = Array.prototype.slice.call(event.target.files || []);
    if (files.length > 3) { fail(t("too_many")); }
    files.slice(0, 3).forEach(function (f) {
      box.appendChild(el("img", {src: URL.createObjectURL(f), alt: f.name}));
    });
  });
  $("report").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var data = new FormData(form);
    var files = data.getAll("photos").filter(function (f) { return f && f.size; });
    if (files.length > 3) { fail(t("too_many")); return; }
    if (!String(data.get("text") || "").trim()) { fail(t("need_text")); return; }
    var body = new FormData();
    body.append("category", data.get("category"));
    body.append("text", data.get("text"));
    if (!submission) { submission = newSubmission(); }
    body.append("submission_id", submission);
    files.forEach(function (f) { body.append("photos", f, f.name); });
    var span = windowOf(data.get("window"));
    if (span) { body.append("preferred_from", span[0]); body.append("preferred_until", span[1]); }
    $("form-error").hidden = true;
    $("send").disabled = true;
    $("send").textContent = t("sending");
    function ready() { $("send").disabled = false; $("send").textContent = t("send"); }
    fetchWithin(base + "/requests", {method: "POST", body: body}, REPORT_TIMEOUT_MS).then(function (res) {
      if (!res.ok) {
        return answerOf(res).then(function (answer) {
          ready();
          say($("form-error"), refusal(answer, "not_sent"), answer);
        });
      }
      return res.json().then(function (created) {
        ready();
        submission = null;
        form.reset(); $("previews").textContent = "";
        return refresh().then(function () { open(created.id); });
      });
    }, function () { ready(); fail(t("not_sent")); });
  });

  translate();
  showSos(sosStage);
  refresh();
  loadNotices();
  setInterval(loadNotices, 30000);
  function pollStatus() {
    return fetchWithin(base + "/status", {cache: "no-store"}, SOS_TIMEOUT_MS).then(function (res) {
      linkGone(res);
      $("offline").hidden = res.ok;
      if (res.ok) { return res.json().then(function (s) {
        if (sosStage !== "sending" && sosStage !== "failed") { showSos(s.stage, s.case_id); }
      }); }
    }, function () { $("offline").hidden = false; });
  }
  setInterval(pollStatus, 3000);
  setInterval(refresh, 10000);
})();
