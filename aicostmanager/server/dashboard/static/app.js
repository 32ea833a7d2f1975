// AICostManager local dashboard. No dependencies; every request goes to this server only.
"use strict";
(function () {
  const API = document.querySelector('meta[name="aicm-api"]').content;
  const COLORS = ["#2f6fed", "#f08c2e", "#1f8a4c", "#c9372c", "#8e5cd9", "#1aa3a3", "#d45d9a",
    "#7a8699", "#b59b00", "#5b3e99", "#3aa655"];
  const LIVE_MS = 3000;
  const $ = (id) => document.getElementById(id);
  const state = { period: "7d", start: null, end: null, group: "vendor", customer: null,
    tables: {}, seen: new Set(), liveTimer: null, loading: 0 };

  // ---------- helpers ----------
  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v;
      else if (k === "style") Object.assign(node.style, v); // CSSOM: allowed by the page's CSP
      else node.setAttribute(k, v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) node.append(kid);
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }
  function money(value) {
    const n = Number(value || 0);
    const digits = n !== 0 && Math.abs(n) < 1 ? 4 : 2;
    return "$" + n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  const count = (n) => Number(n || 0).toLocaleString("en-US");
  const day = (d) => d.toISOString().slice(0, 10);
  function utcToday() { const now = new Date(); return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())); }
  function addDays(d, n) { return new Date(d.getTime() + n * 86400000); }

  class Unauthorized extends Error {}
  async function api(path, params) {
    const url = new URL(API + path, location.origin);
    for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined) url.searchParams.set(k, v);
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 401) throw new Unauthorized();
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  // ---------- period ----------
  function range() {
    const today = utcToday();
    if (state.period === "today") return { start_date: day(today), end_date: day(today) };
    if (state.period === "30d") return { start_date: day(addDays(today, -29)), end_date: day(today) };
    if (state.period === "custom" && state.start && state.end) return { start_date: state.start, end_date: state.end };
    return { start_date: day(addDays(today, -6)), end_date: day(today) };
  }
  function spanDays(r) { return Math.round((Date.parse(r.end_date) - Date.parse(r.start_date)) / 86400000) + 1; }

  // ---------- session ----------
  async function start() {
    bindControls();
    const who = await fetch("/dashboard/session", { credentials: "same-origin" });
    if ((await who.json()).signed_in) showApp(); else showLogin();
  }
  function showLogin() {
    stopLive();
    $("app-view").hidden = true; $("periods").hidden = true; $("logout").hidden = true;
    $("login-view").hidden = false; $("api-key").focus();
  }
  function showApp() {
    $("login-view").hidden = true; $("app-view").hidden = false;
    $("periods").hidden = false; $("logout").hidden = false;
    route();
  }
  async function login(event) {
    event.preventDefault();
    $("login-error").textContent = "";
    const input = $("api-key");
    const response = await fetch("/dashboard/login", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ api_key: input.value }),
    });
    input.value = "";
    if (response.status === 204) showApp();
    else $("login-error").textContent = response.status === 401 ? "That API key is not valid." : "Sign-in failed.";
  }
  async function logout() {
    await fetch("/dashboard/logout", { method: "POST", credentials: "same-origin" });
    showLogin();
  }

  // ---------- controls ----------
  function bindControls() {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    for (const b of document.querySelectorAll("[data-period]")) {
      b.addEventListener("click", () => {
        if (b.dataset.period === "custom") {
          $("custom-range").hidden = false;
          const r = range(); $("custom-start").value = r.start_date; $("custom-end").value = r.end_date;
          return;
        }
        state.period = b.dataset.period; $("custom-range").hidden = true; load();
      });
    }
    $("custom-apply").addEventListener("click", () => {
      const s = $("custom-start").value, e = $("custom-end").value;
      if (!s || !e || s > e) { $("app-error").textContent = "Choose a start date on or before the end date."; return; }
      state.period = "custom"; state.start = s; state.end = e; load();
    });
    for (const b of document.querySelectorAll("[data-group]")) {
      b.addEventListener("click", () => { state.group = b.dataset.group; load(); });
    }
    for (const b of document.querySelectorAll("button.csv")) b.addEventListener("click", () => exportCsv(b.dataset.table));
    window.addEventListener("hashchange", route);
  }
  function route() {
    const m = location.hash.match(/^#\/customer\/(.*)$/);
    state.customer = m ? decodeURIComponent(m[1]) : null;
    load();
  }
  function markActive() {
    for (const b of document.querySelectorAll("[data-period]")) b.classList.toggle("active", b.dataset.period === state.period);
    for (const b of document.querySelectorAll("[data-group]")) b.classList.toggle("active", b.dataset.group === state.group);
  }

  // ---------- loading ----------
  async function load() {
    markActive();
    $("app-error").textContent = "";
    const token = ++state.loading;
    const r = range();
    const customer = state.customer;
    const scoped = customer === null ? {} : { customer_key: customer };
    const granularity = spanDays(r) <= 2 ? "hourly" : "daily";
    const group = customer === null ? state.group : "service";
    try {
      const [summary, series, customers, services, limits] = await Promise.all([
        api("/spend/summary/", { ...r, ...scoped }),
        api("/spend/series/", { ...r, ...scoped, granularity, group_by: group }),
        customer === null ? api("/spend/customers/", r) : Promise.resolve(null),
        api("/spend/services/", { ...r, ...scoped }),
        api("/usage-limits/progress/"),
      ]);
      if (token !== state.loading) return;
      renderCrumbs(customer);
      renderSummary(summary, r);
      renderChart(series);
      renderCustomers(customers);
      renderServices(services.results);
      renderLimits(customer === null ? limits : limits.filter((l) => l.client === customer));
      document.body.dataset.loaded = String(token);
      startLive();
    } catch (err) {
      if (err instanceof Unauthorized) showLogin(); else $("app-error").textContent = String(err.message || err);
    }
  }

  function renderCrumbs(customer) {
    const crumbs = $("crumbs"); crumbs.replaceChildren();
    if (customer === null) { crumbs.append(el("strong", { text: "All customers" })); }
    else {
      crumbs.append(el("a", { href: "#/", text: "All customers" }), " / ",
        el("strong", { "data-testid": "customer-title", text: customer || "(no customer)" }));
    }
    $("customers-panel").hidden = customer !== null;
    $("card-customers").hidden = customer !== null;
    $("group-by").hidden = customer !== null;
  }

  function renderSummary(s, r) {
    $("total").textContent = money(s.total);
    $("total").dataset.value = s.total;
    $("events").textContent = count(s.events);
    $("customers-count").textContent = count(s.customers);
    $("services-count").textContent = count(s.services);
    $("period-label").textContent = r.start_date === r.end_date ? `${r.start_date} (UTC)` : `${r.start_date} → ${r.end_date} (UTC)`;
    const change = $("change");
    if (s.change === null) { change.textContent = `previous period: ${money(s.previous_total)}`; change.className = "muted"; }
    else {
      const pct = (s.change * 100).toFixed(1);
      change.textContent = `${s.change >= 0 ? "▲ +" : "▼ "}${pct}% vs previous period (${money(s.previous_total)})`;
      change.className = s.change >= 0 ? "up" : "down";
    }
    const notes = [];
    if (Number(s.estimated_total || 0) > 0) notes.push(`of which estimated: ${money(s.estimated_total)}`);
    if (s.not_fully_priced_events) notes.push(`${count(s.not_fully_priced_events)} events not fully priced`);
    $("estimated").textContent = notes.join(" · ");
    state.tables.summary = s;
  }

  // ---------- chart ----------
  function renderChart(data) {
    const box = $("chart"); box.replaceChildren();
    $("granularity").textContent = data.granularity === "hourly" ? "(hourly, UTC)" : "(daily, UTC)";
    const W = 900, H = 260, L = 56, B = 24, T = 8;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "Spend over time" });
    const n = data.buckets.length;
    const totals = data.buckets.map((_, i) => data.series.reduce((acc, s) => acc + Number(s.values[i]), 0));
    const max = Math.max(0, ...totals);
    root.append(svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }));
    if (max === 0) {
      const t = svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" });
      t.textContent = "No spend in this period"; root.append(t);
    }
    for (let g = 0; g <= 4 && max > 0; g++) {
      const y = H - B - (H - B - T) * g / 4;
      root.append(svg("line", { x1: L, y1: y, x2: W, y2: y, class: "axis" }));
      const label = svg("text", { x: L - 6, y: y + 3, "text-anchor": "end" });
      label.textContent = money(max * g / 4); root.append(label);
    }
    const slot = (W - L) / Math.max(n, 1);
    const bw = Math.max(1, slot * 0.8);
    const every = Math.ceil(n / 12);
    data.buckets.forEach((bucket, i) => {
      const x = L + i * slot + (slot - bw) / 2;
      let y = H - B;
      data.series.forEach((s, k) => {
        const v = Number(s.values[i]);
        if (v <= 0 || max === 0) return;
        const h = (H - B - T) * v / max;
        y -= h;
        root.append(svg("rect", { x, y, width: bw, height: Math.max(h, 0.5), fill: COLORS[k % COLORS.length], class: "mark" }));
      });
      const hit = svg("rect", { x: L + i * slot, y: T, width: slot, height: H - B - T, fill: "transparent" });
      hit.addEventListener("mousemove", (e) => showTip(e, bucket, data, i, totals[i]));
      hit.addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
      root.append(hit);
      if (i % every === 0) {
        const t = svg("text", { x: L + i * slot + slot / 2, y: H - 8, "text-anchor": "middle" });
        t.textContent = data.granularity === "hourly" ? bucket.slice(11, 16) : bucket.slice(5, 10);
        root.append(t);
      }
    });
    box.append(root);
    const legend = $("legend"); legend.replaceChildren();
    data.series.forEach((s, k) => legend.append(el("span", {}, el("i", { style: { background: COLORS[k % COLORS.length] } }), `${s.key || "(none)"} ${money(s.total)}`)));
    state.tables.series = data;
  }
  function showTip(event, bucket, data, i, total) {
    const tip = $("tooltip");
    tip.replaceChildren(el("strong", { text: `${bucket.replace("T", " ").replace(":00:00Z", ":00").replace("Z", "")}  ${money(total)}` }));
    data.series.forEach((s) => { if (Number(s.values[i]) > 0) tip.append(el("div", { text: `${s.key || "(none)"}: ${money(s.values[i])}` })); });
    const panel = $("chart").parentElement.getBoundingClientRect();
    tip.style.left = `${Math.min(event.clientX - panel.left + 12, panel.width - 180)}px`;
    tip.style.top = `${event.clientY - panel.top + 12}px`;
    tip.hidden = false;
  }
  function sparkline(values) {
    const nums = values.map(Number), max = Math.max(0, ...nums), n = nums.length;
    const s = svg("svg", { class: "spark", viewBox: "0 0 90 22", preserveAspectRatio: "none" });
    if (n === 0) return s;
    const pts = nums.map((v, i) => `${n === 1 ? 45 : (i * 88) / (n - 1) + 1},${21 - (max ? (v / max) * 19 : 0)}`);
    s.append(svg("polyline", { points: pts.join(" ") }));
    return s;
  }

  // ---------- tables ----------
  function fill(id, rows) { const body = $(id).querySelector("tbody"); body.replaceChildren(...rows); }
  function emptyRow(cols, text) { return el("tr", {}, el("td", { colspan: cols, class: "muted", text })); }

  function renderCustomers(data) {
    if (data === null) return;
    const rows = data.results.map((c, i) => el("tr", { "data-testid": "customer-row", "data-customer": c.customer_key ?? "", "data-cost": c.cost },
      el("td", { text: String(i + 1) }),
      el("td", {}, el("a", { href: `#/customer/${encodeURIComponent(c.customer_key ?? "")}`, text: c.customer_key ?? "(no customer)" })),
      el("td", { class: "num", text: money(c.cost) }),
      el("td", { class: "num", text: count(c.events) }),
      el("td", {}, sparkline(c.trend))));
    fill("customers-table", rows.length ? rows : [emptyRow(5, "No customers in this period")]);
    state.tables.customers = { header: ["rank", "customer_key", "cost", "events"],
      rows: data.results.map((c, i) => [i + 1, c.customer_key ?? "", c.cost, c.events]) };
  }
  function renderServices(list) {
    const rows = list.map((s) => el("tr", { "data-testid": "service-row", "data-service": s.service_key, "data-cost": s.cost },
      el("td", { class: "mono", text: s.service_key }),
      el("td", { class: "num", text: money(s.cost) }),
      el("td", { class: "num", text: count(s.events) }),
      el("td", { class: "units", text: s.units.map((u) => `${u.cost_unit_id}: ${count(u.quantity)} (${money(u.cost)})`).join(" · ") })));
    fill("services-table", rows.length ? rows : [emptyRow(4, "No services in this period")]);
    state.tables.services = { header: ["service_key", "vendor", "cost", "events", "cost_unit_id", "quantity", "unit_cost"],
      rows: list.flatMap((s) => (s.units.length ? s.units : [{ cost_unit_id: "", quantity: "", cost: "" }])
        .map((u) => [s.service_key, s.vendor ?? "", s.cost, s.events, u.cost_unit_id, u.quantity, u.cost])) };
  }
  function renderLimits(list) {
    const rows = list.map((l) => {
      const spent = Number(l.current_spend), amount = Number(l.amount);
      const pct = amount > 0 ? Math.min(100, (spent / amount) * 100) : 100;
      const triggered = spent >= amount;
      const scope = [l.client ? `customer ${l.client}` : "all customers", l.service || "all services"].join(" · ");
      return el("tr", { "data-testid": "limit-row", "data-triggered": String(triggered) },
        el("td", { text: scope }),
        el("td", {}, el("span", { class: `badge ${l.threshold_type === "limit" ? "bad" : "warn"}`, text: l.threshold_type }),
          triggered ? " " : null, triggered ? el("span", { class: "badge bad", text: "triggered" }) : null),
        el("td", { text: l.period }),
        el("td", {}, el("div", { class: `bar${triggered ? " over" : ""}`, title: `${pct.toFixed(1)}%` }, el("span", { style: { width: `${pct}%` } }))),
        el("td", { class: "num", text: `${money(l.current_spend)} / ${money(l.amount)}` }));
    });
    fill("limits-table", rows.length ? rows : [emptyRow(5, "No usage limits")]);
    state.tables.limits = { header: ["uuid", "threshold_type", "period", "customer_key", "service_key", "amount", "current_spend", "triggered"],
      rows: list.map((l) => [l.uuid, l.threshold_type, l.period, l.client ?? "", l.service ?? "", l.amount, l.current_spend, Number(l.current_spend) >= Number(l.amount)]) };
  }

  // ---------- live events ----------
  function startLive() { stopLive(); refreshLive(); state.liveTimer = setInterval(refreshLive, LIVE_MS); }
  function stopLive() { if (state.liveTimer) clearInterval(state.liveTimer); state.liveTimer = null; }
  async function refreshLive() {
    const scoped = state.customer === null ? {} : { customer_key: state.customer };
    try {
      const [latest, unpriced] = await Promise.all([
        api("/spend/latest/", { limit: 20, ...scoped }), api("/spend/unpriced/", { limit: 20 })]);
      const first = state.seen.size === 0;
      const rows = latest.results.map((e) => {
        const fresh = !first && !state.seen.has(e.event_id);
        state.seen.add(e.event_id);
        return el("tr", { "data-testid": "event-row", "data-response-id": e.response_id, class: fresh ? "new" : null },
          el("td", { text: e.timestamp.slice(0, 19).replace("T", " ") }),
          el("td", { text: e.customer_key ?? "" }), el("td", { class: "mono", text: e.service_key ?? "" }),
          el("td", {}, e.status, ...flagBadges(e)),
          el("td", { class: "mono" }, el("a", { href: "#", "data-testid": "explain-link", "data-response-id": e.response_id, text: e.response_id })));
      });
      fill("latest-table", rows.length ? rows : [emptyRow(5, "No events yet")]);
      state.tables.latest = { header: ["timestamp", "customer_key", "service_key", "status", "response_id"],
        rows: latest.results.map((e) => [e.timestamp, e.customer_key ?? "", e.service_key ?? "", e.status, e.response_id]) };
      const bad = unpriced.results.map((e) => el("tr", { "data-testid": "unpriced-row" },
        el("td", { text: e.timestamp.slice(0, 19).replace("T", " ") }), el("td", { class: "mono", text: e.service_key ?? "" }),
        el("td", { text: e.customer_key ?? "" }), el("td", {}, el("span", { class: "badge warn", text: e.status })),
        el("td", { text: reasonOf(e) })));
      fill("unpriced-table", bad.length ? bad : [emptyRow(5, "Everything was priced")]);
      state.tables.unpriced = { header: ["timestamp", "service_key", "customer_key", "status", "errors"],
        rows: unpriced.results.map((e) => [e.timestamp, e.service_key ?? "", e.customer_key ?? "", e.status, reasonOf(e)]) };
      $("live").classList.remove("stale");
    } catch (err) {
      $("live").classList.add("stale");
      if (err instanceof Unauthorized) showLogin();
    }
  }

  function flagBadges(e) {
    const out = [];
    if (e.estimated) out.push(" ", el("span", { class: "badge", "data-testid": "estimated-badge", text: "estimated" }));
    if (e.fully_priced === false) out.push(" ", el("span", { class: "badge warn", "data-testid": "partial-badge", text: "not fully priced" }));
    return out;
  }
  function reasonOf(e) {
    const parts = [...(e.errors || [])];
    if (e.unpriced_fields && e.unpriced_fields.length) parts.push(`not priced: ${e.unpriced_fields.join(", ")}`);
    return parts.join("; ");
  }

  // ---------- event view (explain) ----------
  async function showEvent(responseId) {
    let x;
    try { x = await api(`/cost-events/${encodeURIComponent(responseId)}/explain`); }
    catch (err) { if (err instanceof Unauthorized) showLogin(); else $("app-error").textContent = err.message; return; }
    $("event-title").textContent = x.response_id;
    const notes = [x.service_key ?? "", x.status,
      x.catalog ? `prices: ${x.catalog}` : "prices: not recorded"];
    if (x.estimated) notes.push(`estimated usage: ${x.estimated_fields.join(", ")}`);
    if (!x.fully_priced) notes.push(`not priced: ${x.unpriced_fields.join(", ")}`);
    if (x.errors.length) notes.push(x.errors.join("; "));
    $("event-notes").textContent = notes.filter(Boolean).join(" · ");
    const rows = x.lines.map((l) => el("tr", { "data-testid": "explain-row" },
      el("td", { class: "mono", text: l.cost_unit_id }), el("td", { class: "num", text: l.quantity }),
      el("td", { class: "num", text: `× ${l.cost_per_unit}` }), el("td", { class: "num", text: `= ${l.cost}` }),
      el("td", { text: l.source })));
    fill("explain-table", rows.length ? rows : [emptyRow(5, "No cost lines")]);
    $("event-total").textContent = x.total;
    $("event-panel").hidden = false;
    $("event-panel").scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("click", (event) => {
    const link = event.target.closest ? event.target.closest("[data-testid=explain-link]") : null;
    if (link) { event.preventDefault(); showEvent(link.dataset.responseId); }
    if (event.target.id === "event-close") $("event-panel").hidden = true;
  });

  // ---------- CSV ----------
  function csvCell(v) {
    let s = v === null || v === undefined ? "" : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s; // no formula injection when opened in a spreadsheet
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }
  function exportCsv(name) {
    const table = state.tables[name];
    if (!table) return;
    const text = [table.header, ...table.rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
    const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })),
      download: `aicm-${name}${state.customer === null ? "" : "-" + state.customer}-${range().start_date}.csv` });
    document.body.append(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
