// The WPS add-in's script, run by Node's test runner against a small STAND-IN for the part of the
// WPS 表格 object model it uses (Application, Workbook, Sheets, Cells) — WPS itself cannot run here.
// With HUIZONG_TEST_PORT/HUIZONG_TEST_TOKEN set (the Python test starts a real `huizong serve`),
// the buttons talk to that real service.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import vm from "node:vm";

const here = path.dirname(new URL(import.meta.url).pathname);
const staticDir = path.join(here, "..", "..", "pipeline", "wps", "static");

class Cell {
  constructor() { this.Value2 = undefined; this.Font = { Bold: false }; this.Interior = { Color: undefined }; }
}
class Sheet {
  constructor(name) { this.Name = name; this.cells = new Map(); const self = this;
    this.Cells = { Item(r, c) { const k = r + "," + c; if (!self.cells.has(k)) self.cells.set(k, new Cell()); return self.cells.get(k); },
                   Clear() { self.cells.clear(); } }; }
  value(r, c) { const cell = this.cells.get(r + "," + c); return cell ? cell.Value2 : undefined; }
}
class Book {
  constructor() { const self = this; this.list = [new Sheet("Sheet1")];
    this.Sheets = { get Count() { return self.list.length; }, Item(i) { return self.list[i - 1]; },
                    Add(before, after) { const s = new Sheet("Sheet" + (self.list.length + 1)); self.list.push(s); return s; } }; }
  sheet(name) { return this.list.find((s) => s.Name === name); }
}

function load({ port = 8765, token = "t", fetchImpl = globalThis.fetch, answers = {} } = {}) {
  const book = new Book();
  const alerts = [];
  const store = new Map();
  const context = {
    HUIZONG_CONFIG: { port, token },
    Application: { ActiveWorkbook: book, StatusBar: "" },
    fetch: fetchImpl, setTimeout, console,
    alert: (t) => alerts.push(t), confirm: () => true, prompt: () => answers.prompt ?? null,
    localStorage: { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) },
  };
  context.globalThis = context;
  context.window = context;
  vm.createContext(context);
  vm.runInContext(readFileSync(path.join(staticDir, "js", "huizong.js"), "utf8"), context);
  return { context, book, alerts, api: context.Huizong };
}

test("every callback named in ribbon.xml exists in the script", () => {
  const ribbon = readFileSync(path.join(staticDir, "ribbon.xml"), "utf8");
  const names = [...ribbon.matchAll(/(?:onAction|onLoad|getLabel)="([A-Za-z_]\w*)"/g)].map((m) => m[1]);
  const { context } = load();
  assert.ok(names.length >= 3);
  for (const n of new Set(names)) assert.equal(typeof context[n], "function", n);
  const ids = [...ribbon.matchAll(/<button id="(\w+)"/g)].map((m) => m[1]).filter((id) => id !== "btnPeriod");
  for (const id of ids) assert.ok(context.Huizong.ACTIONS[id], `button ${id} has an action`);
});

test("a view is written into its own sheet with headers, rows and colours", () => {
  const { api, book } = load();
  api.writeView(book ? { ActiveWorkbook: book } : null, {
    sheet: "上报情况", title: "2026年10月 上报情况", headers: ["村", "状态"],
    rows: [["青龙村", "已报"], ["白石村", "未报"]], colours: ["#C6EFCE", null], note: "已报 1 个",
  });
  const s = book.sheet("上报情况");
  assert.equal(s.value(1, 1), "2026年10月 上报情况");
  assert.equal(s.value(3, 2), "状态");
  assert.equal(s.value(4, 1), "青龙村");
  assert.equal(s.value(5, 2), "未报");
  assert.equal(s.cells.get("4,1").Interior.Color, api.colour("#C6EFCE"));
  assert.equal(api.colour("#FF0000"), 0x0000ff); // the object model's colours are BGR
  assert.equal(s.value(7, 1), "已报 1 个");
});

test("the period defaults to last month and can be chosen", () => {
  const { api, context } = load({ answers: { prompt: "2026-10" } });
  assert.equal(api.lastMonth(new Date(2026, 0, 15)), "2025-12");
  assert.equal(api.lastMonth(new Date(2026, 10, 3)), "2026-10");
  context.OnAction({ Id: "btnPeriod" });
  assert.equal(api.getPeriod(), "2026-10");
  assert.match(context.GetPeriodLabel(), /2026-10/);
});

test("no service: a clear message, never a stack trace", async () => {
  const { api, alerts } = load({ port: 9, fetchImpl: () => Promise.reject(new TypeError("fetch failed")) });
  await assert.rejects(api.perform("btnCollect"), /汇总服务/);
  const { context, alerts: shown } = load({ port: 9, fetchImpl: () => Promise.reject(new TypeError("fetch failed")) });
  context.OnAction({ Id: "btnCollect" });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(shown.length, 1);
  assert.match(shown[0], /汇总服务/);
  assert.doesNotMatch(shown[0], /at |TypeError/);
  void alerts;
});

const port = process.env.HUIZONG_TEST_PORT;
const token = process.env.HUIZONG_TEST_TOKEN;

test("against a real huizong serve: collect, validate, consolidate write the sheets back", { skip: !port && "no service (run through pytest)" }, async () => {
  const { api, book, context } = load({ port: Number(port), token });
  api.setPeriod(process.env.HUIZONG_TEST_PERIOD || "2026-10");
  const collected = await api.perform("btnCollect");
  assert.match(collected.message, /已收取/);
  const status = book.sheet("上报情况");
  assert.ok(status, "上报情况 written");
  assert.equal(status.value(3, 3), "状态");
  const states = [];
  for (let r = 4; status.value(r, 2) !== undefined; r++) states.push(status.value(r, 3));
  assert.ok(states.includes("已报") && states.includes("未报"));
  await api.perform("btnValidate");
  const problems = book.sheet("问题清单");
  assert.ok(problems && problems.value(3, 5) === "代码");
  assert.ok([...problems.cells.values()].some((c) => c.Value2 === "V007"));
  const ranked = await api.perform("btnConsolidate");
  assert.match(ranked.message, /汇总表/);
  const ranking = book.sheet("排名");
  assert.equal(ranking.value(4, 1), 1);
  assert.match(context.Application.StatusBar, /汇总/);
  // a wrong token is refused with a message
  const bad = load({ port: Number(port), token: "wrong" });
  await assert.rejects(bad.api.perform("btnCollect"), /令牌/);
});
