"use strict";
// Offers meet requests (index/offers.py): in a request's detail the open offers that could
// serve it, nearest first; in an offer's detail the requests it could serve; links both ways.
(() => {
  const { api, el, clear, fmtTime, toast } = QZ;
  const NEAR = { community: "同社区", street: "同街道", district: "同区", city: "同城", anywhere: "不限地点", "": "" };

  function writer() {
    return ["dispatcher", "admin"].includes(document.body.dataset.role);
  }

  function terms(post, L) {
    const o = post.offer || {};
    const parts = [];
    if (o.capacity) parts.push(`可提供 ${o.capacity}${o.unit || ""}，已关联 ${post.offer_used || 0}`);
    if (o.expires_at) parts.push(`有效至 ${fmtTime(o.expires_at)}`);
    if (post.offer_used_up) parts.push("已用完");
    return parts.join(" · ");
  }

  function item(post, L, action) {
    const needs = (post.needs || []).map((n) => el("span", { class: "tag", text: (L.needs || {})[n] || n }));
    const place = [post.district, post.street, post.community].filter(Boolean).join(" · ") || "未定位";
    return el("li", { class: "match", "data-id": post.id },
      el("div", { class: "match-head" },
        post.near ? el("span", { class: `near near-${post.near}`, text: NEAR[post.near] || "" }) : null,
        needs,
        el("span", { class: "place", text: place }),
        el("span", { class: "muted", text: fmtTime(post.posted_at) }),
        action),
      el("p", { class: "member-text", text: post.text }),
      post.kind === "offer" && terms(post, L) ? el("p", { class: "muted offer-terms", text: terms(post, L) }) : null);
  }

  function button(cls, data, text, title) {
    return el("button", { type: "button", class: `btn btn-quiet ${cls}`, ...data, text, title: title || "" });
  }

  async function render(panel, d, L, reload) {
    if (!["request", "offer"].includes(d.kind)) return;
    const box = el("section", { class: "matches", id: "matches", "aria-label": "帮助匹配" });
    panel.append(box);
    const data = await api(`/api/requests/${encodeURIComponent(d.id)}/matches`);
    const isRequest = d.kind === "request";
    if (!isRequest) {
      const line = terms(d, L);
      box.append(el("h3", { text: "这条帮助" }), el("p", { class: "offer-terms", id: "offer-terms", text: line || "没有写明数量和期限" }));
      if (writer()) {
        box.append(d.offer_used_up
          ? button("used-up", { id: "used-up", "data-used": "false" }, "恢复为可用")
          : button("used-up", { id: "used-up", "data-used": "true" }, "标记为已用完", "已用完的帮助不再出现在匹配中"));
      }
    }
    const linked = el("ol", { class: "matches-list", id: "linked" });
    for (const post of data.linked) {
      const [request, offer] = isRequest ? [d.id, post.id] : [post.id, d.id];
      linked.append(item(post, L, writer() ? button("unlink", { "data-request": request, "data-offer": offer }, "撤销关联") : null));
    }
    if (data.linked.length) box.append(el("h3", { text: isRequest ? `已关联的帮助（${data.linked.length}）` : `已关联的求助（${data.linked.length}）` }), linked);
    const list = el("ol", { class: "matches-list", id: "match-list" });
    for (const post of data.matches) {
      const [request, offer] = isRequest ? [d.id, post.id] : [post.id, d.id];
      const text = isRequest ? "关联此帮助" : "关联到此求助";
      list.append(item(post, L, writer() ? button("link-offer", { "data-request": request, "data-offer": offer }, text) : null));
    }
    box.append(el("h3", { text: isRequest ? `可用的帮助（${data.total}）` : `可服务的求助（${data.total}）` }));
    if (!data.matches.length) list.append(el("li", { class: "empty", text: isRequest ? "附近暂时没有可用的同类帮助。" : "附近暂时没有等待中的同类求助。" }));
    box.append(list);
    box.addEventListener("click", (e) => {
      const target = e.target.closest("button");
      if (!target) return;
      act(target).then(reload).catch((error) => toast(error.message, "error"));
    });
  }

  async function act(target) {
    const { request, offer } = target.dataset;
    if (target.classList.contains("link-offer")) {
      const current = await api(`/api/requests/${encodeURIComponent(request)}`);
      await api(`/api/requests/${encodeURIComponent(request)}/links`, { method: "POST", json: { offer, version: current.version } });
      toast("已关联，求助改为「已指派」", "ok");
    } else if (target.classList.contains("unlink")) {
      await api(`/api/requests/${encodeURIComponent(request)}/links/${encodeURIComponent(offer)}`, { method: "DELETE" });
      toast("已撤销关联", "ok");
    } else if (target.id === "used-up") {
      const id = target.closest("#detail").dataset.id;
      await api(`/api/offers/${encodeURIComponent(id)}/used-up`, { method: "POST", json: { used_up: target.dataset.used === "true" } });
      toast(target.dataset.used === "true" ? "已标记为用完" : "已恢复为可用", "ok");
    }
  }

  function historyText(e) {
    if (e.action === "link") return `关联了 ${e.new}`;
    if (e.action === "unlink") return `撤销了与 ${e.old || e.new} 的关联`;
    if (e.action === "used_up") return e.new === "true" ? "标记为已用完" : "恢复为可用";
    return null;
  }

  QZ.matches = { render, historyText };
})();
