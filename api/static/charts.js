"use strict";
// Small SVG charts drawn with DOM calls (no library, no innerHTML): a heatmap, a daily
// line and horizontal bars. Labels are set with textContent.
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function empty(box, message) {
    clear(box);
    const p = document.createElement("p");
    p.className = "muted empty";
    p.textContent = message || "暂无数据";
    box.append(p);
  }

  // Sequential colour scale from pale to deep red.
  function colour(t) {
    const a = [254, 240, 217], b = [179, 0, 0];
    const mix = a.map((v, i) => Math.round(v + (b[i] - v) * Math.sqrt(t)));
    return `rgb(${mix.join(",")})`;
  }

  function heatmap(box, rows, cols, value, rowLabel, colLabel) {
    if (!rows.length || !cols.length) return empty(box);
    clear(box);
    const cell = 72, cellH = 34, left = 110, top = 80;
    const width = left + cols.length * cell + 10, height = top + rows.length * cellH + 10;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "heatmap" });
    root.append(svg("title", {}, "各区 × 需求 求助数热力图"));
    let max = 1;
    for (const r of rows) for (const c of cols) max = Math.max(max, value(r, c));
    cols.forEach((c, j) => {
      const x = left + j * cell + cell / 2;
      root.append(svg("text", { x, y: top - 8, class: "axis", transform: `rotate(-40 ${x} ${top - 8})` }, colLabel(c)));
    });
    rows.forEach((r, i) => {
      const y = top + i * cellH;
      root.append(svg("text", { x: left - 8, y: y + cellH / 2 + 4, class: "axis", "text-anchor": "end" }, rowLabel(r)));
      cols.forEach((c, j) => {
        const v = value(r, c);
        const rect = svg("rect", { x: left + j * cell + 1, y: y + 1, width: cell - 2, height: cellH - 2, rx: 3, fill: v ? colour(v / max) : "#f3f4f6", "data-row": r, "data-col": c, "data-value": v });
        rect.append(svg("title", {}, `${rowLabel(r)} · ${colLabel(c)}：${v}`));
        root.append(rect);
        if (v) root.append(svg("text", { x: left + j * cell + cell / 2, y: y + cellH / 2 + 4, class: v / max > 0.5 ? "cell light" : "cell", "text-anchor": "middle" }, v));
      });
    });
    box.append(root);
  }

  function line(box, points, yLabel) {
    if (!points.length) return empty(box);
    clear(box);
    const width = 560, height = 240, left = 44, right = 16, top = 16, bottom = 40;
    const max = Math.max(1, ...points.map((p) => p.value));
    const step = points.length > 1 ? (width - left - right) / (points.length - 1) : 0;
    const x = (i) => left + i * step, y = (v) => top + (height - top - bottom) * (1 - v / max);
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "line-chart" });
    root.append(svg("title", {}, yLabel));
    for (let k = 0; k <= 4; k += 1) {
      const v = Math.round((max * k) / 4);
      root.append(svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: "grid" }));
      root.append(svg("text", { x: left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, v));
    }
    const every = Math.max(1, Math.ceil(points.length / 8));
    points.forEach((p, i) => {
      if (i % every === 0 || i === points.length - 1) root.append(svg("text", { x: x(i), y: height - 14, class: "axis", "text-anchor": "middle" }, p.label.slice(5)));
    });
    const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
    const area = `${path} L${x(points.length - 1).toFixed(1)},${y(0)} L${x(0).toFixed(1)},${y(0)} Z`;
    root.append(svg("path", { d: area, class: "area" }), svg("path", { d: path, class: "line" }));
    points.forEach((p, i) => {
      const dot = svg("circle", { cx: x(i), cy: y(p.value), r: 3.5, class: "dot" });
      dot.append(svg("title", {}, `${p.label}：${p.value}`));
      root.append(dot);
    });
    box.append(root);
  }

  function bars(box, items) {
    if (!items.length) return empty(box);
    clear(box);
    const width = 520, barH = 26, left = 96, height = items.length * (barH + 8) + 8;
    const max = Math.max(1, ...items.map((d) => d.value));
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "bars" });
    items.forEach((d, i) => {
      const y = 4 + i * (barH + 8);
      const w = ((width - left - 50) * d.value) / max;
      root.append(svg("text", { x: left - 8, y: y + barH / 2 + 4, class: "axis", "text-anchor": "end" }, d.label));
      root.append(svg("rect", { x: left, y, width: Math.max(w, 1), height: barH, rx: 3, class: d.cls || "bar" }));
      root.append(svg("text", { x: left + w + 6, y: y + barH / 2 + 4, class: "axis" }, d.value));
    });
    box.append(root);
  }

  return { heatmap, line, bars, empty };
})();
