"use strict";
// Dispatchers' corrections (index/corrections.py): kind, needs, urgency and place, applied
// at once, recorded, kept as training examples and never overwritten by re-ingestion.
(() => {
  const { api, el, params, toast } = QZ;
  const FIELD = { kind: "类型", needs: "需求", urgency: "紧急程度", place: "地点" };

  function select(id, table, value) {
    const box = el("select", { id });
    for (const [code, name] of Object.entries(table)) box.append(el("option", { value: code, text: name }));
    box.value = value || "";
    return box;
  }

  async function places(box, level, parent, value) {
    box.replaceChildren(el("option", { value: "", text: level === "district" ? "（未定位）" : "（不指定）" }));
    if (level !== "district" && !parent) return;
    const data = await api(`/api/places?${params({ level, parent })}`);
    for (const v of data.values) if (v.code) box.append(el("option", { value: v.name, text: v.name }));
    box.value = value || "";
  }

  function render(panel, d, L, reload) {
    if (!["dispatcher", "admin"].includes(document.body.dataset.role)) return;
    const corrected = (d.corrected || []).map((f) => FIELD[f] || f).join("、");
    const needs = el("fieldset", { class: "co-needs", id: "co-needs" }, el("legend", { text: "需求" }));
    for (const [code, name] of Object.entries(L.needs)) {
      const box = el("input", { type: "checkbox", value: code, id: `co-need-${code}` });
      box.checked = (d.needs || []).includes(code);
      needs.append(el("label", { for: `co-need-${code}` }, box, name));
    }
    const district = el("select", { id: "co-district" });
    const street = el("select", { id: "co-street" });
    const form = el("form", { id: "correction", class: "correction" },
      el("h3", { text: "修正分类" }),
      el("p", { class: "muted", text: corrected ? `已人工修正：${corrected}。修正会保留，重新抓取不会覆盖，并用于训练模型。` : "分类有误时在这里修正：修正会保留，重新抓取不会覆盖，并用于训练模型。" }),
      el("label", {}, "类型 ", select("co-kind", L.kind, d.kind)),
      el("label", {}, "紧急程度 ", select("co-urgency", L.urgency, d.urgency)),
      needs,
      el("label", {}, "区 ", district),
      el("label", {}, "街道 ", street),
      el("button", { type: "submit", class: "btn", text: "保存修正" }));
    panel.append(form);
    places(district, "district", "", d.district).then(() => places(street, "street", d.district, d.street))
      .catch((error) => toast(error.message, "error"));
    district.addEventListener("change", () => places(street, "street", district.value, "").catch((error) => toast(error.message, "error")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit(d).then(reload).catch((error) => toast(error.message, "error"));
    });
  }

  async function submit(d) {
    const body = { version: d.version };
    const kind = document.getElementById("co-kind").value;
    if (kind !== d.kind) body.kind = kind;
    const urgency = document.getElementById("co-urgency").value;
    if (urgency !== d.urgency) body.urgency = urgency;
    const needs = [...document.querySelectorAll("#co-needs input:checked")].map((b) => b.value).sort();
    if (needs.join() !== [...(d.needs || [])].sort().join()) body.needs = needs;
    const district = document.getElementById("co-district").value;
    const street = document.getElementById("co-street").value;
    if (district !== (d.district || "") || street !== (d.street || "")) {
      body.district = district;
      body.street = street;
    }
    await api(`/api/requests/${encodeURIComponent(d.id)}/correction`, { method: "POST", json: body });
    toast("已修正", "ok");
  }

  function historyText(e, label) {
    if (e.action !== "correct") return null;
    const table = { kind: "kind", urgency: "urgency" }[e.field];
    const show = (v) => (e.field === "needs" ? (v || "").split(",").filter(Boolean).map((n) => label("needs", n)).join("、") : table ? label(table, v) : v) || "（无）";
    return `修正${FIELD[e.field] || { district: "区", street: "街道", community: "社区" }[e.field] || e.field}：${show(e.old)} → ${show(e.new)}`;
  }

  QZ.corrections = { render, historyText };
})();
