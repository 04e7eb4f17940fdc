"use strict";
// The analysts' console: summary cards, heatmap, daily line, backlog age, clocks, requests
// beside offers, communities.
(() => {
  const { api, el, clear, labels, fmtTime, toast, params } = QZ;
  const $ = (id) => document.getElementById(id);
  let L = null;

  function filters() {
    return { district: $("a-district").value, need: $("a-need").value, since: $("a-since").value, until: $("a-until").value };
  }
  const needLabel = (n) => (L.needs[n] || n);

  function card(title, value, note) {
    return el("div", { class: "card" }, el("div", { class: "card-title", text: title }), el("div", { class: "card-value", text: value }), note ? el("div", { class: "card-note", text: note }) : null);
  }

  function hours(h) {
    if (h === null || h === undefined) return "—";
    return h < 48 ? `${h} 小时` : `${(h / 24).toFixed(1)} 天`;
  }

  function percent(share) {
    return share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`;
  }

  function table(node, head, rows) {
    clear(node);
    node.append(el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))));
    const body = el("tbody");
    for (const r of rows) body.append(el("tr", {}, r.map((c) => el("td", { text: c ?? "" }))));
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: head.length, class: "muted", text: "暂无数据" })));
    node.append(body);
  }

  async function refresh() {
    const q = params(filters());
    const [overview, grid, age, resolution, communities, clocks, supply] = await Promise.all([
      api(`/api/stats/overview?${q}`), api(`/api/stats/grid?${q}`), api(`/api/stats/age?${q}`),
      api(`/api/stats/resolution?${q}`), api(`/api/stats/communities?${q}`), api(`/api/stats/clocks?${q}`),
      api(`/api/stats/supply?${q}`),
    ]);
    const cards = clear($("cards"));
    cards.append(
      card("求助（去重）", overview.requests, `${overview.posts} 条帖子`),
      card("待处理", overview.open, `最久已等 ${hours(age.longest_wait_hours)}`),
      card("未定位到区", `${(overview.unlocated_share * 100).toFixed(1)}%`, `${overview.unlocated} 个求助`),
      card("解决用时（中位数）", hours(resolution.median_hours), `${resolution.resolved} 个已解决 · P90 ${hours(resolution.p90_hours)}`),
      card("按时响应", percent(clocks.share), `${clocks.within} / ${clocks.decided} 个已到期或已响应`),
    );
    // Answered within the urgency's target, by day of posting and per district, need, team.
    Charts.line($("clock-daily"), clocks.day.map((d) => ({ label: d.value, value: Math.round((d.share || 0) * 100) })), "按时响应率（%）");
    const by = (dimension, name) => clocks[dimension].map((r) => [dimension === "needs" ? needLabel(r.value) : (dimension === "team" ? (L.team[r.value] || r.value) : r.value), name, r.decided, r.within, percent(r.share)]);
    table($("clock-table"), ["值", "维度", "已到期或已响应", "按时响应", "按时率"],
      [...by("district", "区"), ...by("needs", "需求"), ...by("team", "负责组")]);
    $("clock-export").setAttribute("href", `/api/stats/clocks.csv?${q}`);
    // Where help is missing (requests waiting, no offer) and where it waits unused.
    table($("supply-table"), ["区", "需求", "等待中的求助", "可用的帮助", "缺口"],
      supply.rows.map((r) => [r.district, needLabel(r.need), r.requests, r.offers, r.gap]));
    $("supply-export").setAttribute("href", `/api/stats/supply.csv?${q}`);
    const districts = grid.districts.map((d) => d.district);
    const needs = grid.needs.map((n) => n.need);
    const cells = new Map(grid.cells.map((c) => [`${c.district}|${c.need}`, c.requests]));
    Charts.heatmap($("heatmap"), districts, needs, (r, c) => cells.get(`${r}|${c}`) || 0, (r) => r, needLabel);
    Charts.line($("daily"), grid.daily.map((d) => ({ label: d.day, value: d.requests })), "每日新增求助");
    Charts.bars($("age"), age.buckets.map((b, i) => ({ label: b.age, value: b.requests, cls: `bar age-${i}` })));
    table($("communities"), ["社区", "街道", "区", "求助", "待处理", "生活物资", "防护物资", "最近发布"],
      communities.communities.map((c) => [c.community, c.street, c.district, c.requests, c.open, c.needs.food || 0, c.needs.supplies || 0, fmtTime(c.latest)]));
    table($("grid-table"), ["区", "需求", "日期", "求助（去重）", "帖子"],
      grid.rows.map((r) => [r.district, needLabel(r.need), r.day, r.requests, r.posts]));
    $("a-export").setAttribute("href", `/api/export.csv?${q}`);
  }

  document.addEventListener("DOMContentLoaded", () => {
    (async () => {
      L = await labels();
      for (const [code, name] of Object.entries(L.needs)) $("a-need").append(el("option", { value: code, text: name }));
      const places = await api("/api/places?level=district");
      for (const v of places.values) $("a-district").append(el("option", { value: v.name, text: v.count ? `${v.name}（${v.count}）` : v.name }));
      $("stat-filters").addEventListener("submit", (e) => { e.preventDefault(); refresh().catch((err) => toast(err.message, "error")); });
      await refresh();
    })().catch((err) => toast(err.message, "error"));
  });
})();
