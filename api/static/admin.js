"use strict";
// The admins' page: ingestion runs, users, and a token for the current user.
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

  document.addEventListener("DOMContentLoaded", () => { load().catch((err) => toast(err.message, "error")); });
})();
