"use strict";
// The dispatchers' console: filters and facets, one row per cluster, detail and workflow.
(() => {
  const { api, el, clear, labels, fmtTime, duration, toast, params } = QZ;
  const FACETS = [
    ["needs", "need", "需求"],
    ["urgency", "urgency", "紧急程度"],
    ["status", "status", "处理状态"],
    ["team", "team", "负责组"],
    ["kind", "kind", "类型"],
    ["source", "source", "来源"],
  ];
  const LABEL_TABLE = { needs: "needs", urgency: "urgency", status: "status", team: "team", kind: "kind" };
  const state = { page: 1, size: 20, selected: {}, overdue: false, current: null, L: null };
  const $ = (id) => document.getElementById(id);

  function query() {
    return {
      q: $("q").value.trim(),
      sort: $("sort").value,
      district: $("district").value,
      street: $("street").value,
      community: $("community").value,
      since: $("since").value,
      until: $("until").value,
      overdue: state.overdue ? "true" : "",
      ...state.selected,
    };
  }

  function label(table, code) {
    return (state.L[table] && state.L[table][code]) || code;
  }

  async function loadPlaces(select, parent) {
    const level = select.dataset.level;
    const keep = select.value;
    const first = select.options[0].cloneNode(true);
    clear(select).append(first);
    if (level !== "district" && !parent) { select.disabled = true; return; }
    select.disabled = false;
    const data = await api(`/api/places?${params({ level, parent })}`);
    for (const v of data.values) {
      const text = v.count ? `${v.name}（${v.count}）` : v.name;
      select.append(el("option", { value: v.name, title: v.code || "" , text }));
    }
    select.value = keep;
  }

  function badge(urgency) {
    return el("span", { class: `badge urg-${urgency}`, text: label("urgency", urgency) });
  }

  function place(row) {
    return [row.district, row.street, row.community].filter(Boolean).join(" · ") || "未定位";
  }

  function renderFacets(facets) {
    const box = clear($("facets"));
    for (const [key, param, title] of FACETS) {
      const values = facets[key] || [];
      const chosen = state.selected[param] || [];
      if (!values.length && !chosen.length) continue;
      const list = el("ul", { class: "facet" });
      const shown = new Map(values.map((v) => [v.value, v.count]));
      for (const c of chosen) if (!shown.has(c)) shown.set(c, 0);
      for (const [value, count] of shown) {
        const id = `f-${param}-${value}`;
        const box2 = el("input", { type: "checkbox", id, value, "data-param": param });
        box2.checked = chosen.includes(value);
        const text = LABEL_TABLE[key] ? label(LABEL_TABLE[key], value) : value;
        list.append(el("li", {}, el("label", { for: id }, box2, el("span", { class: "facet-name", text }), el("span", { class: "count", text: count }))));
      }
      box.append(el("fieldset", { class: "facet-group", "data-facet": param }, el("legend", { text: title }), list));
    }
  }

  function renderRow(row) {
    const needs = (row.needs || []).map((n) => el("span", { class: "tag", text: label("needs", n) }));
    const sources = row.sources && row.sources.length ? row.sources.join("、") : row.source;
    const meta = el("div", { class: "row-meta" },
      el("span", { class: "place", text: place(row) }),
      el("span", { text: fmtTime(row.posted_at) }),
      clockOf(row),
      el("span", { class: `status st-${row.status}`, text: label("status", row.status) }),
      el("span", { class: "team", text: label("team", row.team) }),
    );
    const size = row.cluster_size > 1
      ? el("button", { type: "button", class: "cluster-size", "data-cluster": row.cluster, title: "展开重复帖", text: `${row.cluster_size} 条重复 · ${sources}` })
      : el("span", { class: "cluster-one", text: sources });
    // The source's full text could not be fetched: what shows is its shortened listing.
    const truncated = row.truncated
      ? el("span", { class: "tag truncated", title: "全文未能取到，显示的是来源列表中的摘要；下次抓取会重试", text: "全文未取到" })
      : null;
    // How many open offers nearby could serve it (index/offers.py), when there are any.
    const offers = row.offers
      ? el("span", { class: "tag offers-near", title: "附近可用的同类帮助，打开详情可关联", text: `可用帮助 ${row.offers}` })
      : null;
    const item = el("li", { class: `row urgency-${urgencyOf(row)}`, "data-id": row.id, "data-cluster": row.cluster, tabindex: "0" },
      el("div", { class: "row-head" }, badge(urgencyOf(row)), needs, truncated, offers, size),
      el("p", { class: "row-text", text: row.text }),
      meta,
    );
    if (row.update) {
      item.append(el("p", { class: "update-note", text: `进展：${label("outcome", row.update.outcome)}（${fmtTime(row.update.posted_at)}）— 建议${label("status", row.update.suggests)}` }));
    }
    item.append(el("ol", { class: "members", hidden: true }));
    return item;
  }

  // The waiting clock (index/clocks.py): time waited and time left to the urgency's target,
  // or how long the answer took.
  function clockOf(row) {
    const c = row.clock;
    if (!c) return el("span", { class: "clock" });
    if (c.answered_at) {
      const text = `${duration(c.waited_s)}后响应${c.in_time ? "（按时）" : "（超时）"}`;
      return el("span", { class: `clock ${c.in_time ? "clock-in-time" : "clock-late"}`, text });
    }
    if (c.left_s === undefined) return el("span", { class: "clock" });
    const text = c.overdue
      ? `已等 ${duration(c.waited_s)} · 超时 ${duration(c.left_s)}`
      : `已等 ${duration(c.waited_s)} · 剩 ${duration(c.left_s)}`;
    return el("span", { class: `clock ${c.overdue ? "clock-overdue" : "clock-waiting"}`, title: `目标 ${duration(c.target_s)} 内响应`, text });
  }

  function renderOverdue(counts) {
    const button = $("overdue");
    const all = (counts && counts.all) || 0;
    const critical = (counts && counts.critical) || 0;
    button.textContent = critical ? `超时 ${all}（危急 ${critical}）` : `超时 ${all}`;
    button.classList.toggle("has-critical", critical > 0);
    button.setAttribute("aria-pressed", state.overdue ? "true" : "false");
  }

  function urgencyOf(row) {
    return { 3: "critical", 2: "high", 1: "normal" }[row.cluster_urgency_rank] || row.urgency || "normal";
  }

  async function search() {
    const data = await api(`/api/requests?${params({ ...query(), page: state.page, size: state.size, matches: "true" })}`);
    $("summary").textContent = `${data.clusters} 个求助（${data.total} 条帖子）`;
    const list = clear($("rows"));
    if (!data.rows.length) list.append(el("li", { class: "empty", text: "没有符合条件的求助。" }));
    for (const row of data.rows) list.append(renderRow(row));
    renderFacets(data.facets);
    renderOverdue(data.overdue);
    const pages = Math.max(1, Math.ceil(data.clusters / state.size));
    $("pageinfo").textContent = `第 ${state.page} / ${pages} 页`;
    $("prev").disabled = state.page <= 1;
    $("next").disabled = state.page >= pages;
    $("export").setAttribute("href", `/api/export.csv?${params(query())}`);
  }

  async function expand(button) {
    const item = button.closest(".row");
    const box = item.querySelector(".members");
    if (!box.hidden) { box.hidden = true; return; }
    const data = await api(`/api/clusters/${encodeURIComponent(button.dataset.cluster)}`);
    clear(box);
    for (const m of data.members) {
      box.append(el("li", { class: "member", "data-id": m.id },
        badge(m.urgency), el("span", { class: "member-kind", text: label("kind", m.kind) }),
        el("span", { text: fmtTime(m.posted_at) }), el("span", { class: "source", text: m.source }),
        m.url ? el("a", { href: m.url, target: "_blank", rel: "noopener noreferrer", text: "原帖" }) : null,
        el("p", { class: "member-text", text: m.text })));
    }
    box.hidden = false;
  }

  function dl(pairs) {
    const list = el("dl", { class: "fields" });
    for (const [k, v] of pairs) if (v) list.append(el("dt", { text: k }), el("dd", { text: v }));
    return list;
  }

  function historyLine(e) {
    const who = `${e.user}（${e.role || ""}）`;
    let what;
    if (e.action === "status") what = `状态 ${label("status", e.old || "new")} → ${label("status", e.new)}`;
    else if (e.action === "team") what = `负责组 ${label("team", e.old || "")} → ${label("team", e.new)}`;
    else if (e.action === "assign") what = `指派给 ${e.new || "（无）"}`;
    else if (e.action === "note") what = `备注：${e.note}`;
    else if (e.action === "reveal") what = "查看了联系方式";
    else if (e.action === "merge") what = `合并了重复组 ${e.old} → ${e.new}`;
    else if (e.action === "unmerge") what = "撤销了一次合并";
    else if (e.action === "detach") what = `从重复组 ${e.old} 拆出（不是同一求助）`;
    else what = QZ.matches.historyText(e) || QZ.corrections.historyText(e, label) || e.action;
    return el("li", {}, el("time", { text: fmtTime(e.at) }), el("span", { class: "who", text: who }), el("span", { text: what }));
  }

  async function openDetail(id) {
    const d = await api(`/api/requests/${encodeURIComponent(id)}`);
    state.current = d;
    const panel = clear($("detail"));
    panel.hidden = false;
    panel.dataset.id = d.id;
    const close = el("button", { type: "button", class: "btn btn-quiet close", id: "close-detail", text: "关闭 ×" });
    const head = el("div", { class: "detail-head" }, badge(d.urgency), el("h2", { text: `求助 ${d.id}` }), close);
    panel.append(head);
    if (d.update && d.update.suggests && !["resolved", "closed"].includes(d.status)) {
      panel.append(el("p", { class: "update-note", id: "suggestion", text: `该求助有进展帖：${label("outcome", d.update.outcome)}（${fmtTime(d.update.posted_at)}）。建议将状态改为「${label("status", d.update.suggests)}」。` }));
    }
    panel.append(el("p", { class: "detail-text", id: "detail-text", text: d.text }));
    if (d.truncated) {
      panel.append(el("p", { class: "truncated-note", id: "truncated-note", text: "该帖全文未能取到，上面是来源列表中的摘要，可打开原帖阅读全文；下次抓取会重试。" }));
    }
    const cues = (d.urgency_cues || []).join("、");
    panel.append(dl([
      ["紧急程度", `${label("urgency", d.urgency)}${cues ? `（依据：${cues}）` : ""}`],
      ["需求", (d.needs || []).map((n) => {
        const why = ((d.needs_cues || {})[n] || []).join("、");
        return `${label("needs", n)}${why ? `（依据：${why}）` : ""}`;
      }).join("；")],
      ["类型", label("kind", d.kind)],
      ["地点", [d.province, d.city, d.district, d.street, d.community].filter(Boolean).join(" ")],
      ["区划代码", [d.district_code, d.street_code, d.community_code].filter(Boolean).join(" / ")],
      ["年龄", d.template && d.template.age], ["发病时间", d.template && d.template.onset],
      ["病情描述", d.template && d.template.description],
      ["来源", `${d.source} · ${fmtTime(d.posted_at)}`],
      ["重复组", `${d.cluster}（${d.cluster_size || 1} 条）`],
    ]));
    const contactBox = el("div", { class: "contact", id: "contact" });
    if (document.body.dataset.contacts !== "no") {
      contactBox.append(el("button", { type: "button", class: "btn", id: "reveal", text: "查看联系方式（将被记录）" }));
    }
    panel.append(contactBox);
    await QZ.matches.render(panel, d, state.L, async () => { await openDetail(d.id); await search(); });

    const status = el("select", { id: "wf-status" }, el("option", { value: "", text: `保持「${label("status", d.status)}」` }));
    for (const s of d.transitions) status.append(el("option", { value: s, text: label("status", s) }));
    const team = el("select", { id: "wf-team" });
    for (const [code, name] of Object.entries(state.L.team)) team.append(el("option", { value: code, text: name }));
    team.value = d.team || "grid";
    const form = el("form", { id: "workflow", class: "workflow" },
      el("h3", { text: "处理" }),
      el("label", {}, "状态 ", status),
      el("label", {}, "负责组 ", team),
      el("label", {}, "指派给 ", el("input", { id: "wf-assignee", maxlength: "80", value: d.assignee || "", placeholder: "志愿者或网格员" })),
      el("label", { class: "wide" }, "备注 ", el("textarea", { id: "wf-note", maxlength: "4000", rows: "2" })),
      el("button", { type: "submit", class: "btn btn-primary", text: "保存" }));
    panel.append(form);
    QZ.corrections.render(panel, d, state.L, async () => { await openDetail(d.id); await search(); });

    const merge = el("form", { id: "merge", class: "merge" },
      el("h3", { text: "合并重复组" }),
      el("input", { id: "merge-other", placeholder: "另一个重复组编号 c-…", maxlength: "200" }),
      el("button", { type: "submit", class: "btn", text: "合并" }),
      el("ul", { id: "merges" }));
    panel.append(merge);
    loadMerges(d.cluster);

    const members = el("ol", { class: "members detail-members" });
    for (const m of d.members) {
      members.append(el("li", { class: m.id === d.id ? "member current" : "member" },
        badge(m.urgency), el("span", { class: "member-kind", text: label("kind", m.kind) }),
        m.outcome ? el("span", { class: "tag", text: label("outcome", m.outcome) }) : null,
        el("span", { text: fmtTime(m.posted_at) }), el("span", { class: "source", text: m.source }),
        m.url ? el("a", { href: m.url, target: "_blank", rel: "noopener noreferrer", text: "原帖" }) : null,
        d.members.length > 1 ? el("button", { type: "button", class: "btn btn-quiet detach", "data-request": m.id, title: "这条帖子不是同一求助：拆成单独一组，以后也不再自动合并", text: "拆出" }) : null,
        el("p", { class: "member-text", text: m.text })));
    }
    panel.append(el("h3", { text: `重复组成员（${d.members.length}）` }), members);
    const history = el("ol", { class: "history", id: "history" });
    for (const e of d.history) history.append(historyLine(e));
    panel.append(el("h3", { text: "处理记录" }), history);
    panel.scrollTop = 0;
  }

  async function loadMerges(cluster) {
    const data = await api(`/api/clusters/${encodeURIComponent(cluster)}`);
    const list = clear($("merges"));
    for (const m of data.merges) {
      const item = el("li", {}, `${fmtTime(m.at)} ${m.user} 合并 ${m.from}（${m.moved} 条）`);
      if (!m.undone) item.append(el("button", { type: "button", class: "btn btn-quiet undo", "data-merge": m.merge_id, text: "撤销" }));
      else item.append(el("span", { class: "muted", text: "（已撤销）" }));
      list.append(item);
    }
  }

  async function submitWorkflow(event) {
    event.preventDefault();
    const d = state.current;
    const body = { version: d.version };
    const status = $("wf-status").value;
    if (status) body.status = status;
    if ($("wf-team").value !== d.team) body.team = $("wf-team").value;
    const assignee = $("wf-assignee").value.trim();
    if (assignee !== (d.assignee || "")) body.assignee = assignee;
    const note = $("wf-note").value.trim();
    if (note) body.note = note;
    try {
      await api(`/api/requests/${encodeURIComponent(d.id)}/workflow`, { method: "POST", json: body });
      toast("已保存", "ok");
      await openDetail(d.id);
      await search();
    } catch (error) {
      toast(error.message, "error");
      if (error.status === 409) await openDetail(d.id).catch(() => {});
    }
  }

  async function reveal() {
    const d = state.current;
    const data = await api(`/api/requests/${encodeURIComponent(d.id)}/contact`, { method: "POST" });
    const box = clear($("contact"));
    box.append(dl([
      ["姓名", (data.names || []).join("、")], ["电话", (data.phones || []).join("、")],
      ["联系人", data.contact], ["紧急联系人", data.emergency_contact], ["地址", data.address],
    ]), el("p", { class: "detail-text full", text: data.text }));
    if (data.url) box.append(el("a", { href: data.url, target: "_blank", rel: "noopener noreferrer", text: "打开原帖" }));
  }

  async function mergeSubmit(event) {
    event.preventDefault();
    const other = $("merge-other").value.trim();
    if (!other) return;
    try {
      const r = await api("/api/clusters/merge", { method: "POST", json: { first: state.current.cluster, second: other } });
      toast(`已合并：${r.moved.length} 条帖子并入 ${r.into}`, "ok");
      await openDetail(state.current.id);
      await search();
    } catch (error) { toast(error.message, "error"); }
  }

  async function undo(button) {
    try {
      await api(`/api/merges/${encodeURIComponent(button.dataset.merge)}/undo`, { method: "POST" });
      toast("已撤销合并", "ok");
      await openDetail(state.current.id);
      await search();
    } catch (error) { toast(error.message, "error"); }
  }

  async function detach(button) {
    try {
      const r = await api(`/api/requests/${encodeURIComponent(button.dataset.request)}/detach`, { method: "POST" });
      toast(`已拆出：${r.request_id} 现为单独一组`, "ok");
      await openDetail(state.current.id);
      await search();
    } catch (error) { toast(error.message, "error"); }
  }

  function run(fn) {
    return (...args) => fn(...args).catch((error) => toast(error.message, "error"));
  }

  document.addEventListener("DOMContentLoaded", run(async () => {
    state.L = await labels();
    const me = await api("/api/me");
    document.body.dataset.contacts = me.sees_contacts ? "yes" : "no";
    document.body.dataset.role = me.role;
    for (const [code, name] of Object.entries(state.L.sort)) $("sort").append(el("option", { value: code, text: name }));
    await loadPlaces($("district"), "");
    await loadPlaces($("street"), "");
    await loadPlaces($("community"), "");
    const again = run(async () => { state.page = 1; await search(); });
    $("search-form").addEventListener("submit", (e) => { e.preventDefault(); again(); });
    for (const id of ["sort", "since", "until"]) $(id).addEventListener("change", again);
    $("district").addEventListener("change", run(async () => {
      $("street").value = ""; $("community").value = "";
      await loadPlaces($("street"), $("district").value); await loadPlaces($("community"), "");
      await again();
    }));
    $("street").addEventListener("change", run(async () => {
      $("community").value = ""; await loadPlaces($("community"), $("street").value); await again();
    }));
    $("community").addEventListener("change", again);
    $("facets").addEventListener("change", (e) => {
      const box = e.target;
      if (!box.dataset.param) return;
      const list = new Set(state.selected[box.dataset.param] || []);
      if (box.checked) list.add(box.value); else list.delete(box.value);
      state.selected[box.dataset.param] = [...list];
      again();
    });
    $("clear").addEventListener("click", run(async () => {
      state.selected = {}; state.overdue = false; $("q").value = ""; $("since").value = ""; $("until").value = "";
      $("district").value = ""; await loadPlaces($("street"), ""); await loadPlaces($("community"), "");
      await again();
    }));
    $("overdue").addEventListener("click", run(async () => {
      state.overdue = !state.overdue; state.page = 1; await search();
    }));
    $("prev").addEventListener("click", run(async () => { state.page -= 1; await search(); }));
    $("next").addEventListener("click", run(async () => { state.page += 1; await search(); }));
    $("rows").addEventListener("click", run(async (e) => {
      const button = e.target.closest(".cluster-size");
      if (button) { await expand(button); return; }
      if (e.target.closest("a")) return;
      const row = e.target.closest(".row");
      if (row) await openDetail(row.dataset.id);
    }));
    $("rows").addEventListener("keydown", run(async (e) => {
      const row = e.target.closest(".row");
      if (row && e.key === "Enter") await openDetail(row.dataset.id);
    }));
    $("detail").addEventListener("submit", (e) => {
      if (e.target.id === "workflow") run(submitWorkflow)(e);
      if (e.target.id === "merge") run(mergeSubmit)(e);
    });
    $("detail").addEventListener("click", run(async (e) => {
      if (e.target.id === "reveal") await reveal();
      if (e.target.id === "close-detail") $("detail").hidden = true;
      if (e.target.classList.contains("undo")) await undo(e.target);
      if (e.target.classList.contains("detach")) await detach(e.target);
    }));
    await search();
  }));
})();
