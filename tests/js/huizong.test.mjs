// The WPS add-in, loaded the way WPS loads it — index.html → main.js → the scripts main.js writes —
// from a real `huizong serve` (started by tests/test_serve.py, HUIZONG_TEST_PORT), and run by Node's
// test runner against a small STAND-IN for the part of the WPS 表格 object model it uses (Application,
// PluginStorage, Workbooks, Sheets, Cells) — WPS itself cannot run here. The stand-in's cells behave
// like Excel's and WPS's: a text starting with = + - @ written into a cell whose number format is
// not text becomes a formula, so the tests see a formula wherever the script would write one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import vm from "node:vm";

const port = process.env.HUIZONG_TEST_PORT;
const base = `http://127.0.0.1:${port}`;
const skip = !port && "no service (run through pytest: tests/test_serve.py)";

class Cell {
  constructor() { this.value = undefined; this.formula = null; this.NumberFormat = "General"; this.Font = { Bold: false }; this.Interior = { Color: undefined }; }
  get Value2() { return this.formula ?? this.value; }
  set Value2(v) {
    if (typeof v === "string" && /^[=+\-@]/.test(v) && this.NumberFormat !== "@") { this.formula = v; this.value = undefined; return; }
    this.formula = null;
    this.value = v;
  }
}
class Sheet {
  constructor(name) { this.Name = name; this.cells = new Map(); const self = this;
    this.Cells = { Item(r, c) { const k = r + "," + c; if (!self.cells.has(k)) self.cells.set(k, new Cell()); return self.cells.get(k); },
                   Clear() { self.cells.clear(); } }; }
  value(r, c) { const cell = this.cells.get(r + "," + c); return cell ? cell.Value2 : undefined; }
  formulas() { return [...this.cells.values()].filter((c) => c.formula !== null).map((c) => c.formula); }
}
class Book {
  constructor(app, marked = false) { const self = this; this.app = app; this.list = [new Sheet("Sheet1")]; this.names = [];
    this.Sheets = { get Count() { return self.list.length; }, Item(i) { return self.list[i - 1]; },
                    Add(before, after) { const s = new Sheet("Sheet" + (self.list.length + 1)); self.list.push(s); return s; } };
    this.Names = { get Count() { return self.names.length; }, Item(i) { return self.names[i - 1]; },
                   Add(name, refersTo, visible) { const n = { Name: name, RefersTo: refersTo, Visible: visible }; self.names.push(n); return n; } };
    if (marked) this.Names.Add("hz_workspace", "=控制台!$B$4");  // as the Excel console (汇总控制台.xlsm) carries it
  }
  Activate() { if (this.app) this.app.active = this; }
  sheet(name) { return this.list.find((s) => s.Name === name); }
}
// Application.Workbooks / ActiveWorkbook: the open workbooks, the active one, Add() making a new active one.
class App {
  constructor() { const self = this; this.books = []; this.active = null; this.opened = []; this.StatusBar = "";
    this.Workbooks = { get Count() { return self.books.length; }, Item(i) { return self.books[i - 1]; },
                       Add() { const b = new Book(self); self.books.push(b); self.active = b; return b; },
                       Open(p) { self.opened.push(p); } }; }
  get ActiveWorkbook() { return this.active; }
  open(book) { book.app = this; this.books.push(book); this.active = book; return book; }
}

async function get(path) {
  const res = await fetch(base + path);
  assert.equal(res.status, 200, path);
  return res.text();
}

// Load the add-in as WPS does: the page, its entry main.js, and every script main.js writes.
// Load the add-in as WPS does: the page, its entry main.js, and every script main.js writes.
// The active workbook is huizong's console (marked) unless a test opens another one.
async function load({ fetchImpl = globalThis.fetch, answers = {} } = {}) {
  const application = new App();
  const book = application.open(new Book(null, true));
  const alerts = [];
  const opened = application.opened;
  const confirms = [];
  const store = new Map();
  const invalidated = [];
  application.PluginStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) };
  const context = {
    location: { origin: base },
    Application: application,
    fetch: fetchImpl, setTimeout, console,
    alert: (t) => alerts.push(t),
    confirm: (t) => { confirms.push(t); return answers.confirm ?? true; },
    prompt: () => answers.prompt ?? null,
  };
  context.globalThis = context;
  context.window = context;
  vm.createContext(context);
  const page = await get("/addin/index.html");
  const entry = page.match(/<script[^>]*src="\.\/(main\.js)"/)[1];
  const main = await get("/addin/" + entry);
  const scripts = [...main.matchAll(/src='([^']+)'/g)].map((m) => m[1]);
  assert.deepEqual(scripts, ["js/actions.js", "js/huizong.js"]);
  for (const src of scripts) vm.runInContext(await get("/addin/" + src), context);
  const ribbonUI = { InvalidateControl: (id) => invalidated.push(id) };
  return { context, book, application, alerts, opened, confirms, store, invalidated, ribbonUI, api: context.Huizong };
}

const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));

test("the ribbon's callbacks exist and every button is an action of the registry", { skip }, async () => {
  const ribbon = await get("/addin/ribbon.xml");
  const { context } = await load();
  const names = [...ribbon.matchAll(/(?:onAction|onLoad|getLabel|getEnabled|getVisible|getImage)="([A-Za-z_]\w*)"/g)].map((m) => m[1]);
  assert.ok(names.length >= 3);
  for (const n of new Set(names)) assert.equal(typeof context[n], "function", n);
  const ids = [...ribbon.matchAll(/<button id="(\w+)"/g)].map((m) => m[1]).filter((id) => id !== "btnPeriod");
  assert.deepEqual(ids, Array.from(context.HUIZONG_ACTIONS, (a) => a.button));
  for (const id of ids) assert.ok(context.Huizong.byButton(id), `button ${id} has an action`);
});

const HOSTILE = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/","点我")', "+1+1", "-2+3", "@SUM(A1:A2)", "=1+1"];

test("a view is written as inert text: no formula from any value", { skip }, async () => {
  const { api, book } = await load();
  const probe = new Cell();
  probe.Value2 = "=1+1";
  assert.equal(probe.formula, "=1+1", "the stand-in turns such text into a formula, as WPS does");
  api.writeView(book, {
    sheet: "问题清单", title: HOSTILE[1], headers: ["村", "填写的值"],
    rows: HOSTILE.map((h) => [h, h]).concat([["青龙村", 12.5]]), colours: HOSTILE.map(() => "#FFC7CE").concat([null]), note: HOSTILE[0],
  });
  const s = book.sheet("问题清单");
  assert.deepEqual(s.formulas(), []);
  assert.equal(s.value(1, 1), HOSTILE[1]);
  HOSTILE.forEach((h, i) => { assert.equal(s.value(4 + i, 2), h); assert.equal(s.cells.get(`${4 + i},2`).NumberFormat, "@"); });
  assert.equal(s.value(4 + HOSTILE.length, 2), 12.5);  // numbers stay numbers
  assert.equal(s.cells.get("4,1").Interior.Color, api.colour("#FFC7CE"));
  assert.equal(api.colour("#FF0000"), 0x0000ff); // the object model's colours are BGR
  assert.equal(s.value(HOSTILE.length + 6, 1), HOSTILE[0]);
});

test("the period: the service's default, any month chosen, a wrong one refused with the catalogue's words", { skip }, async () => {
  const { api, context, invalidated, ribbonUI, alerts } = await load({ answers: { prompt: "2031-03" } });
  assert.equal(api.lastMonth(new Date(2026, 0, 15)), "2025-12");
  context.OnAddinLoad(ribbonUI);
  for (let i = 0; i < 40 && !invalidated.length; i++) await tick();
  assert.deepEqual(invalidated, ["btnPeriod"]);
  const token = JSON.parse(await get("/addin/token")).token;
  const periods = await (await fetch(base + "/periods", { headers: { "X-Huizong-Token": token } })).json();
  assert.match(periods.default, /^\d{4}-\d{2}$/);
  assert.equal(context.GetPeriodLabel(), "报告期 " + periods.default);
  context.OnAction({ Id: "btnPeriod" });  // a month long after the add-in was made
  assert.equal(api.getPeriod(), "2031-03");
  assert.match(context.GetPeriodLabel(), /2031-03/);
  const bad = await load({ answers: { prompt: "2026-13" } });
  bad.context.OnAction({ Id: "btnPeriod" });
  assert.deepEqual(bad.alerts, ["报告期“2026-13”格式不对，应为 2026-10 这样的年月。"]);
  void alerts;
});

test("no service: a clear message, never a stack trace", { skip }, async () => {
  const { context, alerts } = await load();
  context.fetch = () => Promise.reject(new TypeError("fetch failed"));
  context.OnAction({ Id: "btnCollect" });
  for (let i = 0; i < 40 && !alerts.length; i++) await tick();
  assert.equal(alerts.length, 1);
  assert.match(alerts[0], /汇总服务/);
  assert.doesNotMatch(alerts[0], /at |TypeError/);
});

test("a mass mailing is asked first; No sends nothing", { skip }, async () => {
  const calls = [];
  const spy = (url, opts) => { calls.push(url); return globalThis.fetch(url, opts); };
  const { api, alerts, confirms } = await load({ fetchImpl: spy, answers: { confirm: false } });
  api.setPeriod(process.env.HUIZONG_TEST_PERIOD || "2026-10");
  assert.equal(await api.perform("btnRemind"), null);
  assert.deepEqual(confirms, ["将给2026年10月未报和被退回的村发送催报邮件，确定吗？"]);
  assert.deepEqual(alerts, ["已取消。"]);
  assert.deepEqual(calls, []);
});

test("against the real huizong serve: the buttons write the sheets back and say the registry's text", { skip }, async () => {
  const { api, book, context, alerts, opened } = await load();
  api.setPeriod(process.env.HUIZONG_TEST_PERIOD || "2026-10");
  const collected = await api.perform("btnCollect");
  assert.match(collected.message, /已收取/);
  assert.equal(alerts.at(-1), collected.text);
  const status = book.sheet("上报情况");
  assert.ok(status, "上报情况 written");
  assert.equal(status.value(3, 3), "状态");
  const states = [];
  for (let r = 4; status.value(r, 2) !== undefined; r++) states.push(status.value(r, 3));
  assert.ok(states.includes("已报") && states.includes("未报"));
  const texts = {};
  texts.validate = (await api.perform("btnValidate")).text;
  const problems = book.sheet("问题清单");
  assert.ok(problems && problems.value(3, 5) === "代码");
  assert.ok([...problems.cells.values()].some((c) => c.Value2 === "V007"));
  const ranked = await api.perform("btnConsolidate");
  texts.consolidate = ranked.text;
  assert.match(ranked.message, /汇总表/);
  assert.equal(book.sheet("排名").value(4, 1), 1);
  assert.match(context.Application.StatusBar, /汇总/);
  const open = await api.perform("btnOpenSummary");
  texts["open-summary"] = open.text;
  assert.deepEqual(opened, [open.path]);
  for (const sheet of book.list) assert.deepEqual(sheet.formulas(), [], sheet.Name);
  if (process.env.HUIZONG_TEST_OUT) writeFileSync(process.env.HUIZONG_TEST_OUT, JSON.stringify(texts));
});

test("a clerk's own workbook with a sheet named 排名 is never cleared: the views go into huizong's workbook", { skip }, async () => {
  const { api, application, alerts } = await load();
  api.setPeriod(process.env.HUIZONG_TEST_PERIOD || "2026-10");
  const console_ = application.ActiveWorkbook;
  application.books.length = 0;           // only the clerk's workbook is open, and it is the active one
  const own = application.open(new Book(null));
  const ranking = own.Sheets.Add(null, own.Sheets.Item(1));
  ranking.Name = "排名";
  ranking.Cells.Item(1, 1).Value2 = "全镇干部考勤排名";
  ranking.Cells.Item(5, 2).Value2 = 97.5;
  const before = JSON.stringify([...ranking.cells.entries()]);
  assert.throws(() => api.writeView(own, { sheet: "排名", title: "x", headers: [], rows: [], colours: [], note: "" }),
                /不是汇总的工作簿/);
  await api.perform("btnCollect");
  const ranked = await api.perform("btnConsolidate");
  assert.equal(alerts.at(-1), ranked.text);
  assert.equal(JSON.stringify([...ranking.cells.entries()]), before, "the clerk's 排名 is as it was");
  assert.deepEqual(own.list.map((s) => s.Name), ["Sheet1", "排名"], "and no sheet was added to the clerk's workbook");
  assert.equal(application.books.length, 2, "one new workbook, made by the add-in");
  const made = application.books[1];
  assert.ok(api.marked(made) && !api.marked(own));
  assert.equal(made.names[0].Visible, false);
  assert.equal(made.sheet("排名").value(4, 1), 1);
  assert.ok(made.sheet("上报情况"), "both clicks wrote into the same new workbook");
  // the clerk goes back to the own workbook and clicks again: the marked workbook is found, nothing new is made
  application.active = own;
  await api.perform("btnConsolidate");
  assert.equal(application.books.length, 2);
  assert.equal(application.ActiveWorkbook, made, "huizong's workbook is brought to the front");
  assert.equal(JSON.stringify([...ranking.cells.entries()]), before);
  // the Excel console opened in WPS is huizong's too: written when it is the active workbook
  application.open(console_);
  await api.perform("btnConsolidate");
  assert.equal(application.books.length, 3);
  assert.equal(console_.sheet("排名").value(4, 1), 1);
});
