/* 汇总 WPS 加载项：按钮调用本机的 huizong 服务，结果写回汇总的工作簿（带 hz_workspace 记号的），从不写用户自己的表格。
 * It runs in WPS's built-in browser, loaded by main.js from the page the service itself serves
 * (so the service's address is this page's own origin). `Application` is the WPS 表格 object model
 * (like Excel's); HUIZONG_ACTIONS and HUIZONG_TEXT (js/actions.js) are the action registry of
 * pipeline/actions.py and the messages of the problem catalogue.
 * The access token is not in any file: the page asks the service for it (/addin/token), which
 * answers only this PC's add-in page. Ribbon callbacks are synchronous (async ones broke the
 * ribbon in some WPS 12.1 builds); the work runs in promises they start. State is kept in
 * Application.PluginStorage, as the official samples do. Plain ES2017. Errors become messages,
 * never stack traces. Text is written with the text number format first, so nothing becomes a formula.
 */
(function (root) {
  "use strict";

  var POLL_MS = 500;
  var TEXT_FORMAT = "@";
  var ribbon = null;
  var tokenPromise = null;

  function registry() { return root.HUIZONG_ACTIONS || []; }

  function text(key) { return (root.HUIZONG_TEXT || {})[key] || key; }

  function byButton(id) {
    var list = registry();
    for (var i = 0; i < list.length; i++) { if (list[i].button === id) { return list[i]; } }
    return null;
  }

  function baseUrl() {
    var loc = root.location;
    return loc && /^https?:/.test(loc.origin || "") ? loc.origin : "http://127.0.0.1:8765";
  }

  // ---- state: the chosen period ------------------------------------------------------------------
  function storage() {
    try {
      if (root.Application && root.Application.PluginStorage) { return root.Application.PluginStorage; }
    } catch (e) { /* fall through */ }
    try { return root.localStorage || null; } catch (e) { return null; }
  }

  function stored(key) {
    var s = storage();
    var v = s ? s.getItem(key) : null;
    return v ? String(v) : "";
  }

  function store(key, value) {
    var s = storage();
    if (s) { s.setItem(key, value); }
  }

  function lastMonth(today) {
    var d = today || new Date();
    var y = d.getFullYear();
    var m = d.getMonth(); // 0-based: this is last month's number
    if (m === 0) { y -= 1; m = 12; }
    return y + "-" + (m < 10 ? "0" + m : "" + m);
  }

  function isPeriod(p) { return /^(20\d\d|2100)-(0[1-9]|1[0-2])$/.test(p); }

  function getPeriod() { return stored("huizong.period") || stored("huizong.defaultPeriod") || lastMonth(); }

  function setPeriod(p) { store("huizong.period", p); }

  function chinese(p) { return Number(p.slice(0, 4)) + "年" + Number(p.slice(5, 7)) + "月"; }

  // ---- talking to the clerk ------------------------------------------------------------------------
  function say(text) {
    if (root.Application) {
      try { root.Application.StatusBar = text; } catch (e) { /* a read-only status bar is no reason to fail */ }
    }
  }

  function tell(text) {
    say(String(text).split("\n")[0]);
    if (typeof root.alert === "function") { root.alert(text); }
  }

  // ---- the service ---------------------------------------------------------------------------------
  async function fetchJson(path, options) {
    var res;
    try {
      res = await root.fetch(baseUrl() + path, options);
    } catch (e) {
      throw new Error(text("no_service"));
    }
    var data;
    try { data = await res.json(); } catch (e) { throw new Error("汇总服务的回答无法读取（HTTP " + res.status + "）。"); }
    if (!data.ok) {
      var e2 = data.error;
      throw new Error(data.text || (e2 && e2.message) || ("操作失败（HTTP " + res.status + "）。"));
    }
    return data;
  }

  function token() {
    if (!tokenPromise) {
      tokenPromise = fetchJson("/addin/token", { method: "GET" }).then(function (d) { return d.token; });
      tokenPromise.catch(function () { tokenPromise = null; });
    }
    return tokenPromise;
  }

  async function request(method, path, body) {
    var t = await token();
    return fetchJson(path, {
      method: method,
      headers: { "X-Huizong-Token": t, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  async function runJob(action, body) {
    var started = await request("POST", "/" + action, body);
    var job = started.job;
    while (job.state === "running") {
      if (job.total) { say("汇总：" + job.done + " / " + job.total + " " + (job.current || "")); }
      await sleep(POLL_MS);
      job = (await request("GET", "/jobs/" + job.id)).job;
    }
    if (job.state === "failed") { throw new Error(job.error_text || "操作失败。"); }
    return job.result;
  }

  // ---- which workbook the views go into ----------------------------------------------------------
  // Only a workbook marked as huizong's is ever written: the Excel console (its defined name
  // hz_workspace) or a workbook this add-in made and marked the same way. A clerk's own workbook
  // that happens to have a sheet called 排名 is never cleared, whether or not it is the active one.
  var MARK = "hz_workspace";

  function marked(book) {
    try {
      var names = book.Names;
      for (var i = 1; i <= names.Count; i++) {
        if (String(names.Item(i).Name) === MARK) { return true; }
      }
    } catch (e) { /* no names to read: not ours */ }
    return false;
  }

  function viewBook(app) {
    var active = null;
    try { active = app.ActiveWorkbook; } catch (e) { active = null; }
    if (active && marked(active)) { return active; }
    var books = app.Workbooks;
    for (var i = 1; i <= books.Count; i++) {
      var open = books.Item(i);
      if (marked(open)) {
        try { open.Activate(); } catch (e) { /* shown or not, it is the right workbook */ }
        return open;
      }
    }
    var made = books.Add();
    // hidden, and a constant rather than a range: Excel's add-in (which looks for a range) never takes it for a console
    made.Names.Add(MARK, "=\"汇总加载项\"", false);
    return made;
  }

  // ---- writing a view (上报情况 / 排名 / 问题清单) into huizong's workbook ------------------------
  function sheetNamed(book, name) {
    var sheets = book.Sheets;
    for (var i = 1; i <= sheets.Count; i++) {
      if (sheets.Item(i).Name === name) { return sheets.Item(i); }
    }
    var added = sheets.Add(null, sheets.Item(sheets.Count));
    added.Name = name;
    return added;
  }

  function colour(hex) { // "#RRGGBB" → the BGR number the object model uses
    var v = parseInt(hex.slice(1), 16);
    return ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff);
  }

  function put(cell, v) { // text as text: the number format first, so "=…" is never a formula
    if (typeof v === "number") { cell.Value2 = v; return; }
    cell.NumberFormat = TEXT_FORMAT;
    cell.Value2 = (v === null || v === undefined) ? "" : String(v);
  }

  function writeView(book, view) {
    if (!book || !marked(book)) { throw new Error("这个表格不是汇总的工作簿，结果没有写入。"); } // never Clear() a clerk's sheet
    var sheet = sheetNamed(book, view.sheet);
    sheet.Cells.Clear();
    put(sheet.Cells.Item(1, 1), view.title);
    sheet.Cells.Item(1, 1).Font.Bold = true;
    for (var c = 0; c < view.headers.length; c++) {
      var h = sheet.Cells.Item(3, c + 1);
      put(h, view.headers[c]);
      h.Font.Bold = true;
      h.Interior.Color = colour("#D9D9D9");
    }
    for (var r = 0; r < view.rows.length; r++) {
      var row = view.rows[r];
      for (var k = 0; k < row.length; k++) {
        var cell = sheet.Cells.Item(r + 4, k + 1);
        put(cell, row[k]);
        if (view.colours[r]) { cell.Interior.Color = colour(view.colours[r]); }
      }
    }
    if (view.note) { put(sheet.Cells.Item(view.rows.length + 5, 1), view.note); }
    return sheet;
  }

  // ---- one button ----------------------------------------------------------------------------------
  async function perform(id, app) {
    var spec = byButton(id);
    if (!spec) { return null; }
    var period = getPeriod();
    if (spec.confirm) {
      var question = spec.confirm.replace("{period}", chinese(period));
      if (typeof root.confirm !== "function" || !root.confirm(question)) {
        tell(text("cancelled"));
        return null;
      }
    }
    say("汇总：正在" + spec.label + "……");
    var result = await runJob(spec.name, { period: period, confirmed: !!spec.confirm });
    app = app || root.Application;
    if (result.views.length) {
      var book = viewBook(app);
      for (var i = 0; i < result.views.length; i++) { writeView(book, result.views[i]); }
    }
    if (result.open && result.path) { app.Workbooks.Open(result.path); }
    tell(result.text);
    return result;
  }

  // ---- ribbon callbacks (names as in ribbon.xml) ------------------------------------------------
  function OnAddinLoad(ribbonUI) {
    ribbon = ribbonUI;
    request("GET", "/periods").then(function (d) {
      store("huizong.defaultPeriod", d["default"]);
      if (ribbon && ribbon.InvalidateControl) { ribbon.InvalidateControl("btnPeriod"); }
    }).catch(function () { /* no service yet: the buttons will say so */ });
    return true;
  }

  function GetPeriodLabel() {
    return "报告期 " + getPeriod();
  }

  function OnAction(control) {
    var id = control && (control.Id || control.id);
    if (id === "btnPeriod") {
      var p = typeof root.prompt === "function" ? root.prompt("报告期（如 2026-10）", getPeriod()) : null;
      if (p && isPeriod(p.trim())) {
        setPeriod(p.trim());
        if (ribbon && ribbon.InvalidateControl) { ribbon.InvalidateControl("btnPeriod"); }
      } else if (p) {
        tell(text("bad_period").replace("{value}", p.trim()));
      }
      return true;
    }
    perform(id).catch(function (e) { tell(e && e.message ? e.message : String(e)); });
    return true;
  }

  var api = {
    OnAddinLoad: OnAddinLoad, OnAction: OnAction, GetPeriodLabel: GetPeriodLabel,
    perform: perform, writeView: writeView, viewBook: viewBook, marked: marked, runJob: runJob, lastMonth: lastMonth, colour: colour,
    getPeriod: getPeriod, setPeriod: setPeriod, isPeriod: isPeriod, byButton: byButton
  };
  root.OnAddinLoad = OnAddinLoad;
  root.OnAction = OnAction;
  root.GetPeriodLabel = GetPeriodLabel;
  root.Huizong = api;
  if (typeof module !== "undefined" && module.exports) { module.exports = api; }
})(typeof window !== "undefined" ? window : globalThis);
