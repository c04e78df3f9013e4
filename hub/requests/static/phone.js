// The household's phone page: SOS, report a problem, follow it, rate it. Chinese or English.
(function () {
  "use strict";
  var T = {
    zh: {
      sos_small: "紧急求助", report: "报事报修", mine: "我的诉求", none: "还没有诉求。",
      what: "什么问题？", describe: "简单说说情况", photos: "拍照（最多3张）",
      when: "希望上门时间", cancel: "取消", send: "提交", back: "‹ 返回",
      any: "任何时间", today_pm: "今天下午 14–18点", tonight: "今晚 18–21点",
      tomorrow_am: "明天上午 8–12点", tomorrow_pm: "明天下午 14–18点",
      repair: "维修", utilities: "水电", sanitation: "环境卫生", noise: "噪音",
      elevator: "电梯", hazard: "安全隐患", other: "其他",
      received: "已受理", assigned: "已派单", visit_planned: "已约上门",
      in_progress: "处理中", done: "已办结",
      with_whom: "处理人", visit: "上门时间", preferred: "希望时间", notes: "进展",
      rate: "评价一下", comment: "说几句（可选）", not_fixed: "问题没有解决",
      submit_rating: "提交评价", thanks: "谢谢您的评价", too_many: "最多3张照片",
      need_text: "请简单描述问题", sent: "已提交，正在派单", failed: "提交失败：",
      bad_photo: "照片无法使用，请重新拍照（JPEG、PNG），每张不超过10MB。",
      sos_none: "按下按钮求助", sos_received: "已收到", sos_case_opened: "已立案",
      sos_acknowledged: "有人正在赶来", sos_resolved: "已处理", high: "优先处理",
      notice: "通知", unread: "未读", general: "通知", water_shutoff: "停水",
      power_cut: "停电", fire_drill: "消防演练", evacuation: "紧急疏散",
      maintenance: "维修师傅", property: "物业", grid_worker: "网格员", security: "保安",
      volunteer: "志愿者"
    },
    en: {
      sos_small: "Help", report: "Report a problem", mine: "My requests",
      none: "No requests yet.", what: "What is the problem?", describe: "In a few words",
      photos: "Photos (up to 3)", when: "Preferred visit time", cancel: "Cancel",
      send: "Send", back: "‹ Back", any: "Any time", today_pm: "Today 14:00–18:00",
      tonight: "Tonight 18:00–21:00", tomorrow_am: "Tomorrow 08:00–12:00",
      tomorrow_pm: "Tomorrow 14:00–18:00", repair: "Repair", utilities: "Water / power",
      sanitation: "Sanitation", noise: "Noise", elevator: "Elevator",
      hazard: "Safety hazard", other: "Other", received: "Received", assigned: "Assigned",
      visit_planned: "Visit planned", in_progress: "In progress", done: "Done",
      with_whom: "With", visit: "Visit", preferred: "Preferred", notes: "Updates",
      rate: "How did it go?", comment: "A comment (optional)", not_fixed: "It is not fixed",
      submit_rating: "Send rating", thanks: "Thank you for your rating",
      too_many: "At most 3 photos", need_text: "Please describe the problem",
      sent: "Sent: being dispatched", failed: "Could not send: ",
      bad_photo: "A photo could not be used: take it again (JPEG or PNG, up to 10 MB).",
      sos_none: "Press the button for help", sos_received: "Received",
      sos_case_opened: "Case opened", sos_acknowledged: "Someone is coming",
      sos_resolved: "Resolved", high: "High priority", notice: "Notice", unread: "New",
      general: "Notice", water_shutoff: "Water shut-off", power_cut: "Power cut",
      fire_drill: "Fire drill", evacuation: "Evacuation", maintenance: "maintenance",
      property: "property staff", grid_worker: "grid worker", security: "security",
      volunteer: "volunteer"
    }
  };
  var CATEGORIES = ["repair", "utilities", "sanitation", "noise", "elevator", "hazard", "other"];
  var STAGES = ["received", "assigned", "visit_planned", "in_progress", "done"];
  var SOS_COLOURS = {none: "#5b6770", received: "#b26a00", case_opened: "#c62828",
    acknowledged: "#1565c0", resolved: "#2e7d32"};
  var base = window.location.pathname.replace(/\/$/, "");
  var lang = (window.localStorage && localStorage.getItem("linli-lang")) || "zh";
  var sosStage = document.body.dataset.stage || "none";
  var requests = [];
  var notices = [];
  var expanded = {};
  var openId = null;

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
    return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB",
      {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});
  }

  function showSos(stage) {
    sosStage = stage;
    $("zh").textContent = T.zh["sos_" + stage] || T.zh.sos_none;
    $("en").textContent = T.en["sos_" + stage] || T.en.sos_none;
    $("status").style.background = SOS_COLOURS[stage] || SOS_COLOURS.none;
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
    if (openId !== null) { renderDetail(find(openId)); }
  }

  function windowOf(key) {
    var spans = {today_pm: [0, 14, 18], tonight: [0, 18, 21], tomorrow_am: [1, 8, 12],
      tomorrow_pm: [1, 14, 18]};
    if (!spans[key]) { return null; }
    var s = spans[key];
    var start = new Date(); start.setDate(start.getDate() + s[0]); start.setHours(s[1], 0, 0, 0);
    var end = new Date(start.getTime()); end.setHours(s[2], 0, 0, 0);
    return [start.toISOString(), end.toISOString()];
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
      var item = el("li", {className: "card", tabindex: "0", "data-id": String(r.id)}, [
        el("div", {className: "card-head"}, [
          el("strong", {text: t(r.category)}), chip(r.stage)]),
        el("p", {text: r.text}),
        el("small", {text: when(r.created_at)})
      ]);
      item.addEventListener("click", function () { open(r.id); });
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
        tabindex: "0", "data-id": String(n.id)}, [
        el("div", {className: "card-head"}, [
          el("strong", {text: n.title}),
          n.read_at ? el("small", {text: t(n.category)}) : el("span", {className: "badge", text: t("unread")})]),
        body,
        el("small", {text: when(n.created_at)})
      ]);
      item.addEventListener("click", function () {
        expanded[n.id] = true;
        body.hidden = false;
        if (!n.read_at) {
          fetch(base + "/notices/" + n.id + "/read", {method: "POST"})
            .then(function (res) { return res.ok ? res.json() : null; })
            .then(function (read) { if (read) { n.read_at = read.read_at; renderNotices(); } });
        }
      });
      box.appendChild(item);
    });
  }

  function loadNotices() {
    return fetch(base + "/notices", {cache: "no-store"})
      .then(function (res) { return res.ok ? res.json() : {items: []}; })
      .then(function (body) { notices = body.items; renderNotices(); }, function () {});
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
    var stars = el("div", {className: "stars", role: "radiogroup"});
    [1, 2, 3, 4, 5].forEach(function (n) {
      var input = el("input", {type: "radio", name: "score", value: String(n),
        id: "star" + n, required: "required"});
      stars.appendChild(input);
      stars.appendChild(el("label", {"for": "star" + n, "aria-label": n + "/5", text: "★"}));
    });
    form.appendChild(stars);
    form.appendChild(el("textarea", {name: "comment", rows: "2", placeholder: t("comment")}));
    if (r.not_fixed_until) {
      form.appendChild(el("label", {className: "check"},
        [el("input", {type: "checkbox", name: "not_fixed"}), el("span", {text: t("not_fixed")})]));
    }
    form.appendChild(el("button", {type: "submit", className: "primary", text: t("submit_rating")}));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var body = {score: Number(data.get("score")), comment: data.get("comment") || null,
        fixed: !data.get("not_fixed")};
      fetch(base + "/requests/" + r.id + "/rating", {method: "POST",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
        .then(function (res) { return res.json(); })
        .then(function () { refresh(); });
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
        return el("li", {}, [el("small", {text: when(u.ts) + " · " + u.by}),
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

  function show(view) {
    ["home", "form-view", "detail-view"].forEach(function (id) { $(id).hidden = id !== view; });
    window.scrollTo(0, 0);
  }
  function open(id) { openId = id; renderDetail(find(id)); show("detail-view"); }

  function refresh() {
    return fetch(base + "/requests", {cache: "no-store"})
      .then(function (res) { return res.ok ? res.json() : {items: []}; })
      .then(function (body) {
        requests = body.items;
        renderList();
        if (openId !== null) { renderDetail(find(openId)); }
      }, function () {});
  }

  function fail(message) { var p = $("form-error"); p.textContent = message; p.hidden = false; }

  $("lang").addEventListener("click", function () {
    lang = lang === "zh" ? "en" : "zh";
    try { localStorage.setItem("linli-lang", lang); } catch (e) { /* private mode */ }
    translate();
  });
  $("sos").addEventListener("click", function () {
    showSos("received");
    fetch(base + "/sos", {method: "POST"}).then(function (res) {
      if (res.ok) { res.json().then(function (s) { showSos(s.stage); }); }
    }, function () {});
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
    $("send").disabled = true;
    fetch(base + "/requests", {method: "POST", body: body}).then(function (res) {
      $("send").disabled = false;
      if (!res.ok) {
        return res.json().then(function (e) {
          var detail = typeof e.detail === "string" ? e.detail : String(res.status);
          var photo = res.status === 413 || /^photo|photos/.test(detail);
          fail(photo ? t("bad_photo") + " (" + detail + ")" : t("failed") + detail);
        });
      }
      return res.json().then(function (created) {
        submission = null;
        form.reset(); $("previews").textContent = "";
        return refresh().then(function () { open(created.id); });
      });
    }, function () { $("send").disabled = false; fail(t("failed")); });
  });

  translate();
  showSos(sosStage);
  refresh();
  loadNotices();
  setInterval(loadNotices, 30000);
  setInterval(function () {
    fetch(base + "/status", {cache: "no-store"}).then(function (res) {
      if (res.ok) { res.json().then(function (s) { showSos(s.stage); }); }
    }, function () {});
  }, 3000);
  setInterval(refresh, 10000);
})();
