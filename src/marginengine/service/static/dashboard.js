// The dashboard: plain DOM + hand-drawn SVG (no library, no build step).
"use strict";
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
const NS = "http://www.w3.org/2000/svg";
const history = {};           // asset -> [price, ...] (last 200 ticks)
let ticks = 0, refreshing = false, pending = false;

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function fmt(x, d) {
  if (x === null || x === undefined) return "–";
  return Number(x).toLocaleString(undefined, {maximumFractionDigits: d === undefined ? 2 : d});
}
function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }

function drawPrices() {
  const svg = document.getElementById("prices"); clear(svg);
  const legend = document.getElementById("legend"); legend.textContent = "";
  Object.keys(history).sort().forEach((asset, i) => {
    const s = history[asset]; if (s.length < 1) return;
    const base = s[0], lo = Math.min(...s) / base, hi = Math.max(...s) / base;
    const span = Math.max(hi - lo, 1e-9), color = COLORS[i % COLORS.length];
    const pts = s.map((p, j) => `${(j / Math.max(s.length - 1, 1)) * 790 + 5},` +
      `${195 - ((p / base - lo) / span) * 185}`).join(" ");
    svg.appendChild(el("polyline", {points: pts, fill: "none", stroke: color, "stroke-width": 2}));
    const tag = document.createElement("span"); tag.style.color = color;
    tag.textContent = `${asset} ${fmt(s[s.length - 1])}`; legend.appendChild(tag);
  });
}

function bars(svg, labels, values, color) {
  clear(svg);
  const max = Math.max(1, ...values), w = 390 / Math.max(values.length, 1);
  values.forEach((v, i) => {
    const h = (v / max) * 170;
    svg.appendChild(el("rect", {x: 5 + i * w, y: 180 - h, width: w - 2, height: h,
                                fill: typeof color === "function" ? color(i) : color}));
    svg.appendChild(el("text", {x: 5 + i * w + w / 2, y: 195, "font-size": 9,
                                "text-anchor": "middle"}, labels[i]));
    if (v) svg.appendChild(el("text", {x: 5 + i * w + w / 2, y: 176 - h, "font-size": 9,
                                       "text-anchor": "middle"}, fmt(v, 0)));
  });
}

function drawHealth(dist) {
  const edges = dist.edges, labels = [];
  for (let i = 0; i + 1 < edges.length; i++) labels.push(edges[i + 1] === null ? `${edges[i]}+` : `<${edges[i + 1]}`);
  bars(document.getElementById("health"), labels, dist.counts,
       (i) => (edges[i + 1] !== null && edges[i + 1] <= 1 ? "#d62728" : "#1f77b4"));
}

async function get(path) { const r = await fetch(path); if (!r.ok) throw new Error(path); return r.json(); }

async function refresh() {
  if (refreshing) { pending = true; return; }
  refreshing = true;
  try {
    const [summary, risk] = await Promise.all([get("/summary"), get("/at-risk?limit=15")]);
    document.getElementById("k-accounts").textContent = fmt(summary.accounts, 0);
    document.getElementById("k-liq").textContent = fmt(summary.liquidatable, 0);
    document.getElementById("k-bad").textContent = fmt(summary.bad_debt_usd);
    const ins = Object.values(summary.insurance || {}).reduce((a, b) => a + b, 0);
    document.getElementById("k-ins").textContent = Object.keys(summary.insurance || {}).length ? fmt(ins, 0) : "n/a";
    drawHealth(summary.health_distribution);
    const body = document.querySelector("#at-risk tbody"); body.textContent = "";
    for (const a of risk) {
      const tr = document.createElement("tr"); if (a.liquidatable) tr.className = "liq";
      tr.dataset.account = a.account;
      for (const v of [a.account, fmt(a.health, 4), fmt(a.debt), a.level]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    const prot = document.querySelector("#protocol tbody"); prot.textContent = "";
    const select = document.getElementById("heat-asset");
    // Options' underlyings too: the heatmap counts portfolio accounts at each price.
    const underlyings = new Set(Object.values((summary.options || {}).vols || {}).map((v) => v.underlying));
    for (const [asset, r] of Object.entries(summary.assets)) {
      const tr = document.createElement("tr"), unit = Math.pow(10, r.decimals);
      for (const v of [asset, fmt(r.price), fmt(r.supplied / unit), fmt(r.borrowed / unit)]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      prot.appendChild(tr);
      if (![...select.options].some((o) => o.value === asset) && r.price > 0 && (r.supplied > 0 || underlyings.has(asset))) select.add(new Option(asset, asset));
      if (!history[asset] && r.price > 0) history[asset] = [r.price];
    }
    if (!select.dataset.chosen) {
      // Default: the options' underlying where there are options (what their margins
      // move on), else the asset with the most value supplied net of its borrows (the
      // collateral a crash hits, not the stablecoin lent out). A book lending much
      // USDC beside WETH options picked USDC, whose fall moves nothing.
      const value = ([a, r]) => ((r.supplied - r.borrowed) / Math.pow(10, r.decimals)) * r.price;
      const top = Object.entries(summary.assets).filter(([a, r]) => r.price > 0 && r.supplied > 0).sort((x, y) => value(y) - value(x))[0];
      const pick = [...underlyings].sort()[0] || (top ? top[0] : undefined);
      if (pick) { select.value = pick; select.dataset.chosen = "1"; }
    }
    if (select.value) {
      const heat = await get(`/heatmap?asset=${encodeURIComponent(select.value)}&steps=10&max_drop=0.5`);
      // Prices below 10 USD with cents (a stablecoin's levels were all "1").
      bars(document.getElementById("heatmap"), heat.levels.map((l) => fmt(l.price, l.price < 10 ? 2 : 0)),
           heat.levels.map((l) => l.debt), "#ff7f0e");
    }
    await drawOptions(summary.options);
    document.body.dataset.refreshed = String(ticks);
  } catch (e) { console.warn(e); }
  refreshing = false;
  if (pending) { pending = false; refresh(); }
}

function row(body, values, cls) {
  const tr = document.createElement("tr"); if (cls) tr.className = cls;
  for (const v of values) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
  body.appendChild(tr); return tr;
}
function days(seconds) { return `${fmt(seconds / 86400, 1)}d`; }
function pct(ppm) { return `${fmt(ppm / 1e4, 1)}%`; }

// The options panel: /summary's options block (portfolio accounts by health, running
// auctions, each expiry's surface) and, per listed account, /accounts/{id}'s worst
// scenario (the engine's exact portfolio margin).
async function drawOptions(opt) {
  const panel = document.getElementById("options");
  if (!opt) { panel.hidden = true; return; }
  panel.hidden = false;
  document.getElementById("opt-rule").textContent = opt.rule ? `(${opt.rule})` : "";
  document.getElementById("opt-accounts").textContent = fmt(opt.accounts, 0);
  document.getElementById("opt-liq").textContent = fmt(opt.liquidatable, 0);
  document.getElementById("opt-auction-count").textContent = fmt(opt.auctions.length, 0);
  const listed = opt.lowest.slice(0, 10);
  const details = await Promise.all(listed.map((a) => get(`/accounts/${encodeURIComponent(a.account)}`).catch(() => null)));
  const body = document.querySelector("#opt-table tbody"); body.textContent = "";
  listed.forEach((a, i) => {
    const d = details[i], w = d && d.worst;
    let worst = a.unpriced || "–", pnl = "–";
    if (w && w.scenario) {
      worst = `#${w.scenario.index} spot ×${fmt(w.scenario.spot_shock, 3)} vol ${w.scenario.vol_shock}`;
      pnl = fmt(w.scenario.pnl);
    } else if (w) { worst = w.source; pnl = fmt(w.value); }
    const tr = row(body, [a.account, a.health === null ? "–" : fmt(a.health, 4), a.level, worst, pnl,
                          a.auction ? "running" : ""], a.liquidatable ? "liq" : "");
    tr.dataset.account = a.account;
  });
  const auctions = document.querySelector("#opt-auctions tbody"); auctions.textContent = "";
  for (const r of opt.auctions) row(auctions, [`#${r.id}`, r.account, r.insolvent ? "insolvent" : "solvent", `t=${r.start_time}`]);
  const vols = document.querySelector("#opt-vols tbody"); vols.textContent = "";
  for (const v of Object.values(opt.vols)) row(vols, [v.underlying, days(v.expiry), pct(v.vol_ppm), pct(v.skew_ppm)]);
  for (const key of opt.svi) {
    const cut = key.lastIndexOf("-");
    row(vols, [key.slice(0, cut), days(Number(key.slice(cut + 1))), "SVI", ""]);
  }
}

function onTick(msg) {
  ticks = msg.tick; document.getElementById("k-ticks").textContent = fmt(ticks, 0);
  for (const [asset, p] of Object.entries(msg.prices)) {
    (history[asset] = history[asset] || []).push(p);
    if (history[asset].length > 200) history[asset].shift();
  }
  drawPrices();
  const list = document.getElementById("alerts");
  for (const c of msg.crossed.slice(0, 20)) {
    const li = document.createElement("li"); li.className = c.direction;
    li.textContent = `#${msg.tick} ${c.account} ${c.direction === "down" ? "↓" : "↑"} health ${fmt(c.health, 4)}` +
      (c.below.length ? ` (below ${c.below[c.below.length - 1]})` : " (above all)");
    list.insertBefore(li, list.firstChild);
  }
  for (const q of msg.liquidatable.quotes.slice(0, 10)) {
    const li = document.createElement("li"); li.className = "down";
    // A portfolio account's quote is the auction that liquidates it (no repay pair).
    li.textContent = q.mechanism === "portfolio_auction"
      ? `#${msg.tick} ${q.account} liquidatable: portfolio auction (${q.event})`
      : `#${msg.tick} ${q.account} liquidatable: repay ${q.debt_asset} for ${q.collateral_asset}`;
    list.insertBefore(li, list.firstChild);
  }
  while (list.children.length > 200) list.removeChild(list.lastChild);
  document.getElementById("k-liq").textContent = fmt(msg.liquidatable.count, 0);
  refresh();
}

function connect() {
  const status = document.getElementById("status");
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onopen = () => { status.textContent = "live"; status.className = "status live"; };
  ws.onmessage = (ev) => onTick(JSON.parse(ev.data));
  ws.onclose = () => { status.textContent = "disconnected"; status.className = "status down"; setTimeout(connect, 1000); };
}
document.getElementById("heat-asset").addEventListener("change", (ev) => { ev.target.dataset.chosen = "1"; refresh(); });
refresh().then(connect);
