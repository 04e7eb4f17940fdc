"use strict";
// Shared helpers. Post data is untrusted: it only ever reaches the page through
// textContent (el() below); there is no innerHTML anywhere in the console.
const QZ = (() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";

  async function api(path, options = {}) {
    const init = { credentials: "same-origin", ...options };
    init.headers = { Accept: "application/json", ...(options.headers || {}) };
    if (init.method && init.method !== "GET") {
      init.headers["X-CSRF-Token"] = csrf;
      if (options.json !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(options.json);
      }
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      window.location.assign("/login");
      throw new Error("请重新登录");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.error || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function safeUrl(value) {
    try {
      const url = new URL(String(value), window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  // el("a", {class: "x", href: url, text: "..."}, child, "text", ...)
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key === "href") {
        const href = safeUrl(value);
        if (href) node.setAttribute("href", href);
      } else if (key.startsWith("on")) throw new Error("no inline handlers");
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  let labelsPromise = null;
  function labels() {
    if (!labelsPromise) labelsPromise = api("/api/labels");
    return labelsPromise;
  }

  const zone = { timeZone: "Asia/Shanghai" };
  function fmtTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "—";
    const parts = new Intl.DateTimeFormat("zh-CN", {
      ...zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
    }).formatToParts(d);
    const get = (t) => (parts.find((p) => p.type === t) || {}).value || "";
    return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
  }

  // A span of seconds as a dispatcher reads it: 45 分钟, 5 小时 20 分, 3 天 2 小时.
  function duration(seconds) {
    const s = Math.abs(Math.round(seconds));
    const m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
    if (h < 1) return `${Math.max(m, 1)} 分钟`;
    if (d < 1) return m % 60 ? `${h} 小时 ${m % 60} 分` : `${h} 小时`;
    return h % 24 ? `${d} 天 ${h % 24} 小时` : `${d} 天`;
  }

  let toastTimer = null;
  function toast(message, kind = "info") {
    const node = document.getElementById("toast");
    if (!node) return;
    node.textContent = message;
    node.className = `toast toast-${kind}`;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 5000);
  }

  function params(obj) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(obj)) {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (v !== "" && v !== null && v !== undefined) search.append(key, v);
      }
    }
    return search;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const logout = document.getElementById("logout");
    if (logout) {
      logout.addEventListener("click", async () => {
        await fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
        window.location.assign("/login");
      });
    }
  });

  return { api, el, clear, labels, fmtTime, duration, toast, params, safeUrl };
})();
