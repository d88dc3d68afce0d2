/* 汇总 WPS 加载项：按钮调用本机的 huizong 服务，结果写回当前表格。
 * It runs in WPS's built-in browser; `Application` is the WPS 表格 object model (like Excel's),
 * `HUIZONG_CONFIG` comes from config.js, written by `huizong wps-addin` (port and access token).
 * Plain ES2017 (WPS for Linux ships an older Chromium). Errors become messages, never stack traces.
 */
(function (root) {
  "use strict";

  var ACTIONS = {
    btnTemplates: { action: "templates", label: "生成模板" },
    btnSendTemplates: { action: "send-templates", label: "发送模板", confirm: "将给每个村发送本月模板邮件，确定吗？" },
    btnCollect: { action: "collect", label: "收取邮件" },
    btnValidate: { action: "validate", label: "校验" },
    btnConsolidate: { action: "consolidate", label: "汇总排名" },
    btnRemind: { action: "remind", label: "催报", confirm: "将给未报和被退回的村发送催报邮件，确定吗？" },
    btnOpenSummary: { action: "open-summary", label: "打开汇总表" }
  };
  var POLL_MS = 500;
  var ribbon = null;

  function config() {
    return root.HUIZONG_CONFIG || { port: 8765, token: "" };
  }

  function baseUrl() {
    return "http://127.0.0.1:" + config().port;
  }

  function lastMonth(today) {
    var d = today || new Date();
    var y = d.getFullYear();
    var m = d.getMonth(); // 0-based: this is last month's number
    if (m === 0) { y -= 1; m = 12; }
    return y + "-" + (m < 10 ? "0" + m : "" + m);
  }

  function storage() {
    try { return root.localStorage || null; } catch (e) { return null; }
  }

  function getPeriod() {
    var s = storage();
    var p = s && s.getItem("huizong.period");
    return p || lastMonth();
  }

  function setPeriod(p) {
    var s = storage();
    if (s) { s.setItem("huizong.period", p); }
  }

  function say(text) {
    if (root.Application) {
      try { root.Application.StatusBar = text; } catch (e) { /* a read-only status bar is no reason to fail */ }
    }
  }

  function tell(text) {
    say(text);
    if (typeof root.alert === "function") { root.alert(text); }
  }

  function errorText(body, fallback) {
    var e = body && body.error;
    if (!e) { return fallback; }
    if (Array.isArray(e)) { return e.map(function (p) { return p.message; }).join("\n"); }
    return e.message || fallback;
  }

  async function request(method, path, body) {
    var res;
    try {
      res = await root.fetch(baseUrl() + path, {
        method: method,
        headers: { "X-Huizong-Token": config().token, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body)
      });
    } catch (e) {
      throw new Error("连接不上本机的汇总服务。请先双击桌面上的“汇总服务”（或运行 huizong serve），再点按钮。");
    }
    var data;
    try { data = await res.json(); } catch (e) { throw new Error("汇总服务的回答无法读取（HTTP " + res.status + "）。"); }
    if (!data.ok) { throw new Error(errorText(data, "操作失败（HTTP " + res.status + "）。")); }
    return data;
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
    if (job.state === "failed") { throw new Error(errorText({ error: job.error }, "操作失败。")); }
    return job.result;
  }

  // ---- writing a view (上报情况 / 排名 / 问题清单) into the open workbook ----------------------
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

  function writeView(app, view) {
    var book = app.ActiveWorkbook;
    if (!book) { throw new Error("请先打开或新建一个表格，再点按钮。"); }
    var sheet = sheetNamed(book, view.sheet);
    sheet.Cells.Clear();
    sheet.Cells.Item(1, 1).Value2 = view.title;
    sheet.Cells.Item(1, 1).Font.Bold = true;
    for (var c = 0; c < view.headers.length; c++) {
      var h = sheet.Cells.Item(3, c + 1);
      h.Value2 = view.headers[c];
      h.Font.Bold = true;
      h.Interior.Color = colour("#D9D9D9");
    }
    for (var r = 0; r < view.rows.length; r++) {
      var row = view.rows[r];
      for (var k = 0; k < row.length; k++) {
        var cell = sheet.Cells.Item(r + 4, k + 1);
        var v = row[k];
        cell.Value2 = (v === null || v === undefined) ? "" : (typeof v === "number" ? v : String(v));
        if (view.colours[r]) { cell.Interior.Color = colour(view.colours[r]); }
      }
    }
    if (view.note) { sheet.Cells.Item(view.rows.length + 5, 1).Value2 = view.note; }
    return sheet;
  }

  async function perform(id, app) {
    var spec = ACTIONS[id];
    if (!spec) { return null; }
    if (spec.confirm && typeof root.confirm === "function" && !root.confirm(spec.confirm)) { return null; }
    var period = getPeriod();
    say("汇总：正在" + spec.label + "……");
    var result = await runJob(spec.action, { period: period });
    app = app || root.Application;
    if (result.status) { writeView(app, result.status); }
    if (result.ranking) { writeView(app, result.ranking); }
    if (result.problems && result.problems.sheet) { writeView(app, result.problems); }
    if (spec.action === "collect" || spec.action === "validate") {
      var status = (await request("GET", "/status?period=" + encodeURIComponent(period))).status;
      writeView(app, status);
    }
    var extra = (result.problems && Array.isArray(result.problems) && result.problems.length)
      ? "\n" + result.problems.map(function (p) { return p.message; }).join("\n") : "";
    tell(spec.label + "：" + result.message + extra);
    return result;
  }

  // ---- ribbon callbacks (names as in ribbon.xml) ------------------------------------------------
  function OnAddinLoad(ribbonUI) {
    ribbon = ribbonUI;
    return true;
  }

  function GetPeriodLabel() {
    return "报告期 " + getPeriod();
  }

  function OnAction(control) {
    var id = control && (control.Id || control.id);
    if (id === "btnPeriod") {
      var p = typeof root.prompt === "function" ? root.prompt("报告期（如 2026-10）", getPeriod()) : null;
      if (p && /^\d{4}-(0[1-9]|1[0-2])$/.test(p.trim())) {
        setPeriod(p.trim());
        if (ribbon && ribbon.InvalidateControl) { ribbon.InvalidateControl("btnPeriod"); }
      } else if (p) {
        tell("报告期格式不对，应为 2026-10 这样的年月。");
      }
      return true;
    }
    perform(id).catch(function (e) { tell(e && e.message ? e.message : String(e)); });
    return true;
  }

  var api = {
    OnAddinLoad: OnAddinLoad, OnAction: OnAction, GetPeriodLabel: GetPeriodLabel,
    perform: perform, writeView: writeView, runJob: runJob, lastMonth: lastMonth, colour: colour,
    getPeriod: getPeriod, setPeriod: setPeriod, ACTIONS: ACTIONS
  };
  root.OnAddinLoad = OnAddinLoad;
  root.OnAction = OnAction;
  root.GetPeriodLabel = GetPeriodLabel;
  root.Huizong = api;
  if (typeof module !== "undefined" && module.exports) { module.exports = api; }
})(typeof window !== "undefined" ? window : globalThis);
