"use strict";
// The admins' page: ingestion runs, models and corrections, users, and a token.
(() => {
  const { api, el, clear, labels, fmtTime, toast } = QZ;
  const $ = (id) => document.getElementById(id);

  function show(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value)) return fmtTime(value);
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  async function load() {
    const L = await labels();
    const { runs } = await api("/api/admin/runs");
    const table = clear($("runs"));
    if (!runs.length) {
      table.append(el("tbody", {}, el("tr", {}, el("td", { class: "muted empty", text: "还没有采集运行记录。No ingestion run has been recorded yet." }))));
    } else {
      const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))].slice(0, 10);
      table.append(el("thead", {}, el("tr", {}, keys.map((k) => el("th", { text: k })))));
      const body = el("tbody");
      for (const r of runs) body.append(el("tr", {}, keys.map((k) => el("td", { text: show(r[k]) }))));
      table.append(body);
    }
    const { users } = await api("/api/admin/users");
    const ut = clear($("users"));
    ut.append(el("thead", {}, el("tr", {}, ["用户", "角色", "创建时间"].map((h) => el("th", { text: h })))));
    const body = el("tbody");
    for (const u of users) body.append(el("tr", {}, el("td", { text: u.name }), el("td", { text: L.role[u.role] || u.role }), el("td", { text: fmtTime(u.created_at) })));
    ut.append(body);
    $("token-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const t = await api("/api/tokens", { method: "POST", json: { label: $("token-label").value } });
        const out = $("token-out");
        out.textContent = `${t.token}\n（${t.days} 天内有效，只显示这一次）`;
        out.hidden = false;
      } catch (err) { toast(err.message, "error"); }
    });
  }

  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1));
  const CORPORA = ["wuhan-2020", "henan-2021", "shanghai-2022", "invented"];

  // The model analysis uses beside the trained candidates, each with its frozen-test figures.
  async function loadModels() {
    const data = await api("/api/admin/models");
    const cur = data.current;
    $("model-current").textContent = `当前模型：${cur.name}（训练时含 ${cur.corrections || 0} 条修正）`;
    const table = clear($("model-table"));
    const head = ["模型", "修正条数", ...CORPORA.map((c) => `${c} 需求 micro-F1`), "危重召回（均值）", ""];
    table.append(el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))));
    const body = el("tbody");
    for (const m of [cur, ...data.candidates]) {
      const recalls = Object.values(m.test || {}).map((f) => f.critical_recall).filter((v) => v !== undefined);
      const recall = recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : null;
      const action = m.name === cur.name
        ? el("span", { class: "muted", text: "使用中" })
        : el("button", { type: "button", class: "btn promote", "data-name": m.name, text: "启用" });
      body.append(el("tr", { "data-model": m.name },
        el("td", { text: m.name }), el("td", { text: m.corrections || 0 }),
        ...CORPORA.map((c) => el("td", { text: pct((m.test || {})[c] && m.test[c].needs_micro_f1) })),
        el("td", { text: pct(recall) }), el("td", {}, action)));
    }
    table.append(body);
    $("model-restore").hidden = !data.previous;
  }

  // Per need: corrections received, F1 on each frozen test split and on recent corrections.
  async function loadTeaching(L) {
    const t = await api("/api/admin/teaching");
    const d = t.disagreement || {};
    $("drift").textContent = t.corrections
      ? `共 ${t.corrections} 条修正，评分 ${t.scored} 条。最近 7 天修正与当前模型不一致 ${pct(d.recent)}%（${d.recent_n || 0} 条），此前 ${pct(d.earlier)}%（${d.earlier_n || 0} 条）。${t.drift === true ? "⚠ 最近的修正与模型分歧明显变大（漂移），建议用修正重新训练。" : t.drift === false ? "未见漂移。" : "修正还太少，无法判断漂移。"}`
      : "还没有修正。调度员在求助详情里「修正分类」后，这里显示各需求的修正次数和模型成绩。";
    const needs = [...new Set([...Object.keys(L.needs), ...Object.keys(t.touched || {})])];
    const table = clear($("teaching-table"));
    const head = ["需求", "修正次数", ...CORPORA.map((c) => `${c} 测试 F1`), "最近修正上的 F1"];
    table.append(el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))));
    const body = el("tbody");
    for (const n of needs) {
      body.append(el("tr", { "data-need": n }, el("td", { text: L.needs[n] || n }), el("td", { text: (t.touched || {})[n] || 0 }),
        ...CORPORA.map((c) => el("td", { text: pct(((t.test_needs_f1 || {})[c] || {})[n]) })),
        el("td", { text: pct((t.needs_f1 || {})[n]) })));
    }
    table.append(body);
  }

  async function models(L) {
    await loadModels();
    await loadTeaching(L);
    $("model-table").addEventListener("click", (e) => {
      const button = e.target.closest(".promote");
      if (!button) return;
      api("/api/admin/models/promote", { method: "POST", json: { name: button.dataset.name } })
        .then(() => { toast("已启用：之后开始的采集运行使用这个模型", "ok"); return loadModels(); })
        .catch((err) => toast(err.message, "error"));
    });
    $("model-restore").addEventListener("click", () => {
      api("/api/admin/models/restore", { method: "POST" })
        .then(() => { toast("已恢复上一个模型", "ok"); return loadModels(); })
        .catch((err) => toast(err.message, "error"));
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    load().then(() => labels()).then(models).catch((err) => toast(err.message, "error"));
  });
})();
