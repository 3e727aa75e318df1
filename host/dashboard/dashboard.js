// The operator's dashboard: draws GET /v1/dashboard every few seconds and a request's explain
// trace on demand. Charts are uPlot's (loaded before this file); the rest is plain DOM.
"use strict";

const REFRESH_MS = 3000;
const MINUTES = 60;
const TOKEN_KEY = "spoke-batches-operator-token";

// Contact states in the order the bars stack them, with their legend labels.
const STATES = [
  ["unassigned", "unassigned, not texted"],
  ["assignedUntexted", "assigned, not texted"],
  ["messaged", "messaged"],
  ["conversations", "needs response / in conversation"],
  ["closed", "closed"],
  ["optedOut", "opted out"],
  ["other", "other"],
];

// Batch request outcomes as /v1/dashboard's traffic names them, with their colours.
const OUTCOMES = [
  ["assigned", "assigned", "#43a047"],
  ["nothing", "nothing to give", "#90a4ae"],
  ["refused", "refused", "#fb8c00"],
  ["strategyFailed", "strategy failed", "#e53935"],
  ["failed", "host failed", "#6d4c41"],
];

const charts = new Map(); // element id -> uPlot
let refreshing = false;

// --- small DOM helpers -------------------------------------------------------------------

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") node.className = value;
    else if (name.startsWith("data-")) node.dataset[camel(name.slice(5))] = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function camel(name) {
  return name.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
}

function micros(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? (value / 1000).toFixed(1) + " ms" : value + " µs";
}

function count(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString("en-GB");
}

// --- the token: asked once, kept in this tab's session storage, never in the URL -----------

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: "Bearer " + token } : {};
}

function askForToken(status) {
  const form = document.getElementById("auth");
  const reason = document.getElementById("auth-reason");
  reason.textContent = status === 403 && sessionStorage.getItem(TOKEN_KEY)
    ? "That token may not read the dashboard: enter the operator token (SPOKE_BATCHES_OPERATOR_TOKEN)."
    : sessionStorage.getItem(TOKEN_KEY)
      ? "The service refused that token: enter the operator token (SPOKE_BATCHES_OPERATOR_TOKEN)."
      : "This page needs the operator token (SPOKE_BATCHES_OPERATOR_TOKEN).";
  form.hidden = false;
  document.getElementById("content").hidden = true;
  document.getElementById("meta").textContent = "Waiting for the operator token.";
}

async function getJson(path) {
  const response = await fetch(path, { headers: authHeaders(), cache: "no-store" });
  if (response.status === 401 || response.status === 403) {
    askForToken(response.status);
    return null;
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || {};
    throw new Error((error.code ? error.code + ": " : "") + (error.message || response.statusText));
  }
  document.getElementById("auth").hidden = true;
  document.getElementById("content").hidden = false;
  return data;
}

// --- charts ------------------------------------------------------------------------------

// The hour of traffic ending at `trafficAt`: its minutes, oldest first, as unix seconds (the
// charts' x values), and `series(value, missing)`, one value per minute from the minute's entry
// (`missing` where none was recorded).
function hourOf(traffic, trafficAt) {
  const now = Math.floor(Date.parse(trafficAt) / 60000) * 60;
  const minutes = Array.from({ length: MINUTES }, (_, index) => now - (MINUTES - 1 - index) * 60);
  const byMinute = new Map(traffic.map((entry) => [Date.parse(entry.minute) / 1000, entry]));
  const series = (value, missing) => minutes.map((minute) => {
    const entry = byMinute.get(minute);
    return entry ? value(entry) : missing;
  });
  return { minutes, series };
}

function sum(values) {
  return values.reduce((total, value) => total + value, 0);
}

// The indices of the series' non-zero values: a point is drawn only where something happened.
function nonZero(chart, seriesIndex) {
  return chart.data[seriesIndex].flatMap((value, index) => (value > 0 ? [index] : []));
}

function chartWidth(container) {
  return Math.max(240, Math.floor(container.getBoundingClientRect().width || 480));
}

// Draws `data` in the chart kept under `id` (made with `options` on first use).
function plot(id, options, data) {
  const container = document.getElementById(id);
  let chart = charts.get(id);
  if (!chart) {
    // Half a minute either side, so the first and the current minute are not drawn on the edge.
    const scales = { ...options.scales, x: { time: true, range: (_, min, max) => [min - 30, max + 30] } };
    chart = new uPlot({ width: chartWidth(container), ...options, scales }, data, container);
    charts.set(id, chart);
  } else {
    chart.setData(data);
  }
  return chart;
}

window.addEventListener("resize", () => {
  for (const [id, chart] of charts) {
    const container = document.getElementById(id);
    if (container) chart.setSize({ width: chartWidth(container), height: chart.height });
  }
});

function renderTraffic(hour) {
  const minutes = hour.minutes;
  const series = OUTCOMES.map(([key]) => hour.series((entry) => entry[key], 0));
  plot("requests-chart", {
    height: 200,
    legend: { live: false },
    series: [{}, ...OUTCOMES.map(([, label, colour]) => ({ label, stroke: colour, width: 2, points: { show: true, size: 5, fill: colour, filter: nonZero } }))],
    axes: [{}, { label: "requests", size: 50 }],
    scales: { y: { range: (_, min, max) => [0, Math.max(1, max)] } },
  }, [minutes, ...series]);
  plot("latency-chart", {
    height: 200,
    legend: { live: false },
    series: [{},
      { label: "p50", stroke: "#1e88e5", width: 2, spanGaps: false, points: { show: true, size: 6, fill: "#1e88e5" } },
      { label: "p99", stroke: "#e53935", width: 2, spanGaps: false, points: { show: true, size: 6, fill: "#e53935" } }],
    axes: [{}, { label: "ms", size: 50 }],
    scales: { y: { range: (_, min, max) => [0, Math.max(1, max ?? 1)] } },
  }, [minutes,
    hour.series((entry) => entry.p50Ms, null),
    hour.series((entry) => entry.p99Ms, null)]);
  // The totals are the sums of what the chart plots.
  const totals = document.getElementById("traffic-totals");
  const sums = OUTCOMES.map(([key, label], index) => {
    const total = sum(series[index]);
    return element("span", { "data-outcome": key, "data-total": total }, element("b", {}, count(total)), " " + label);
  });
  const all = sum(series.flat());
  totals.replaceChildren(element("span", { "data-total-requests": all }, count(all) + " requests: "),
    ...sums.flatMap((span, index) => (index ? [", ", span] : [span])));
}

// --- campaigns ---------------------------------------------------------------------------

function renderCampaigns(campaigns, hour) {
  const list = document.getElementById("campaigns");
  if (campaigns.length === 0) {
    for (const [id, chart] of charts) {
      if (id.startsWith("batches-")) {
        chart.destroy();
        charts.delete(id);
      }
    }
    list.replaceChildren(element("p", { className: "muted" }, "No unarchived campaign uses dynamic assignment."));
    return;
  }
  if (!list.querySelector(".campaign")) list.replaceChildren();
  const wanted = new Set(campaigns.map((campaign) => "campaign-" + campaign.id));
  for (const card of [...list.querySelectorAll(".campaign")]) {
    if (!wanted.has(card.id)) {
      charts.get("batches-" + card.dataset.campaign)?.destroy();
      charts.delete("batches-" + card.dataset.campaign);
      card.remove();
    }
  }
  for (const campaign of campaigns) {
    let card = document.getElementById("campaign-" + campaign.id);
    if (!card) {
      card = element("article", { className: "campaign", id: "campaign-" + campaign.id, "data-campaign": campaign.id },
        element("h3"), element("div", { className: "facts" }),
        element("div", { className: "columns" },
          element("div", { className: "progress-part" }),
          element("div", { className: "batches-part" },
            element("div", { className: "batches-caption muted small" }),
            element("div", { className: "chart batches-chart", id: "batches-" + campaign.id }))));
      list.append(card);
    }
    card.querySelector("h3").textContent = "#" + campaign.id + " " + campaign.title;
    if (campaign.error) {
      card.querySelector(".facts").replaceChildren(element("span", { className: "error" }, campaign.error));
      card.querySelector(".progress-part").replaceChildren();
      card.querySelector(".batches-caption").textContent = "";
      charts.get("batches-" + campaign.id)?.destroy();
      charts.delete("batches-" + campaign.id);
      continue;
    }
    card.querySelector(".facts").replaceChildren(...campaignFacts(campaign));
    card.querySelector(".progress-part").replaceChildren(...progressBar(campaign.progress));
    const batches = hour.series((entry) => entry.batchesByCampaign[campaign.id] || 0, 0);
    const batchTotal = sum(batches);
    const contactTotal = sum(hour.series((entry) => entry.contactsByCampaign[campaign.id] || 0, 0));
    const caption = card.querySelector(".batches-caption");
    caption.dataset.batches = batchTotal;
    caption.textContent = "Batches per minute: " + count(batchTotal) + " batches, " + count(contactTotal) + " contacts this hour";
    plot("batches-" + campaign.id, {
      height: 90,
      legend: { show: false },
      series: [{}, { label: "batches", stroke: "#1e88e5", fill: "rgba(30,136,229,.35)", paths: uPlot.paths.bars({ size: [0.8, 8] }), points: { show: false } }],
      axes: [{ size: 24, font: "10px system-ui" }, { size: 32, font: "10px system-ui" }],
      scales: { y: { range: (_, min, max) => [0, Math.max(1, max)] } },
    }, [hour.minutes, batches]);
  }
}

function campaignFacts(campaign) {
  const progress = campaign.progress;
  const texters = progress
    ? count(progress.texters) + (progress.maxTexters ? " of " + count(progress.maxTexters) + " allowed" : " (no limit)")
    : "–";
  const strategies = (campaign.strategies || []).map((strategy) => element("span",
    { className: strategy.loaded ? "badge" : "badge warn", title: strategy.loadError || "" },
    strategy.name + (strategy.default ? " (default)" : "") + (strategy.loaded ? "" : strategy.loadError ? " – failed to load" : " – not loaded")));
  return [
    element("span", { "data-texters": progress ? progress.texters : "" }, "Texters joined: ", element("b", {}, texters)),
    element("span", {}, "Strategies: ", ...strategies.flatMap((badge, index) => (index ? [" ", badge] : [badge]))),
    element("span", { className: "muted counted" }, progress
      ? "counted " + clock(progress.countedAt) + " (took " + progress.countMs.toFixed(1) + " ms)"
      : "not counted yet"),
  ];
}

function progressBar(progress) {
  if (!progress) return [element("p", { className: "muted" }, "Contacts not counted yet: the first count runs in the background shortly.")];
  const contacts = progress.contacts;
  const total = STATES.reduce((sum, [key]) => sum + (contacts[key] || 0), 0);
  const bar = element("div", { className: "bar", role: "img", "aria-label": "contacts by state" });
  for (const [key, label] of STATES) {
    if (!contacts[key]) continue;
    const segment = element("span", { className: "segment state-" + key, "data-state": key, "data-count": contacts[key], title: label + ": " + count(contacts[key]) });
    segment.style.flexGrow = String(contacts[key]);
    bar.append(segment);
  }
  const legend = element("ul", { className: "legend" },
    STATES.filter(([key]) => key !== "other" || contacts.other).map(([key, label]) =>
      element("li", { className: "state-" + key, "data-state": key, "data-count": contacts[key] || 0 },
        element("b", {}, count(contacts[key] || 0)), " " + label)),
    element("li", { "data-total": total }, element("b", {}, count(total)), " in all"));
  return [bar, legend];
}

// --- strategies --------------------------------------------------------------------------

function renderStrategies(strategies) {
  const rows = strategies.map((strategy) => {
    const stats = strategy.stats || {};
    const kinds = Object.entries(stats.failuresByKind || {});
    return element("tr", { "data-strategy": strategy.name },
      element("td", {}, strategy.name),
      element("td", {}, strategy.displayName),
      element("td", { className: "status-" + strategy.status }, strategy.status),
      element("td", {}, element("code", {}, strategy.contentHash ? strategy.contentHash.slice(0, 12) : "")),
      element("td", { className: "num" }, count(stats.calls || 0)),
      element("td", { "data-failures": stats.failures || 0 }, kinds.length
        ? kinds.map(([kind, n]) => kind + " " + count(n)).join(", ")
        : "none"),
      element("td", { className: "num" }, micros(stats.medianMicros)),
      element("td", { className: "num" }, micros(stats.p99Micros)),
      element("td", { className: "num" }, count(stats.medianFuel) + " / " + count(stats.p99Fuel)),
      element("td", {}, loadHistory(strategy)));
  });
  if (rows.length === 0) rows.push(element("tr", {}, element("td", { colspan: 10, className: "muted" }, "No strategies in the strategies folder.")));
  document.querySelector("#strategies tbody").replaceChildren(...rows);
}

function loadHistory(strategy) {
  const events = [...(strategy.history || [])].reverse();
  return element("ul", { className: "history" }, events.map((event) =>
    element("li", { className: "load-" + event.status },
      clock(event.at) + " ", element("span", { className: "status-" + event.status }, event.status),
      event.version ? " " + event.version.slice(0, 12) : "",
      event.error ? element("span", { className: "error" }, event.error) : null)));
}

// --- refresh -----------------------------------------------------------------------------

async function refresh() {
  if (refreshing || document.hidden) return;
  refreshing = true;
  try {
    const data = await getJson("/v1/dashboard");
    if (!data) return;
    // The hour the traffic covers ends at `trafficAt` (the wall clock when it was read).
    const hour = hourOf(data.traffic, data.trafficAt);
    renderCampaigns(data.campaigns, hour);
    renderTraffic(hour);
    renderStrategies(data.strategies);
    document.getElementById("meta").textContent =
      "Database: " + data.database + ". Updated " + clock(data.serverTime) + ".";
  } catch (error) {
    document.getElementById("meta").textContent = "Cannot read the dashboard's data: " + error.message;
  } finally {
    refreshing = false;
  }
}

// --- explain -----------------------------------------------------------------------------

function explainLink(assignment, texter) {
  return location.origin + location.pathname + "#explain=" + assignment + (texter ? ":" + texter : "");
}

let explaining = 0; // the newest explain asked for: an older answer arriving later is dropped

async function explain(assignment, texter) {
  const asked = ++explaining;
  const out = document.getElementById("explain");
  document.getElementById("explain-assignment").value = assignment;
  document.getElementById("explain-texter").value = texter || "";
  history.replaceState(null, "", "#explain=" + assignment + (texter ? ":" + texter : ""));
  const query = texter ? "?texterId=" + encodeURIComponent(texter) : "";
  out.replaceChildren(element("p", { className: "muted" }, "Explaining…"));
  try {
    const data = await getJson("/v1/assignments/" + encodeURIComponent(assignment) + "/explain" + query);
    if (!data || asked !== explaining) return;
    out.replaceChildren(...explanation(data.trace, data.outcome, explainLink(assignment, texter)).filter(Boolean));
  } catch (error) {
    if (asked !== explaining) return;
    out.replaceChildren(element("p", { className: "error", id: "explain-error" }, error.message));
  }
}

function explanation(trace, outcome, link) {
  const linkInput = element("input", { readonly: true, value: link, id: "explain-link", "aria-label": "link to this explanation" });
  const copy = element("button", { type: "button" }, "Copy link");
  copy.addEventListener("click", async () => {
    linkInput.select();
    try {
      await navigator.clipboard.writeText(link);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Select and copy the link";
    }
  });
  const strategy = trace.strategy
    ? trace.strategy + (trace.version ? " (version " + trace.version + ")" : "")
    : "no strategy";
  return [
    element("p", { className: "verdict", id: "explain-verdict", "data-decision": trace.decision },
      element("b", {}, trace.decision), " — " + trace.reason + ". Decided by " + strategy + "."),
    element("div", { className: "link-row" }, "Link for a colleague:", linkInput, copy),
    timeline(trace),
    clamping(trace, outcome),
    trace.logs && trace.logs.length
      ? element("div", {}, element("b", {}, "Logged by the strategy"),
        element("pre", { className: "logs" }, trace.logs.map((line) => line.level + ": " + line.message).join("\n")))
      : null,
  ];
}

// The strategy's host calls in order, each drawn where it started and as long as it took.
function timeline(trace) {
  const calls = trace.hostCalls || [];
  const times = trace.hostCallTimes || [];
  if (calls.length === 0) return element("p", { className: "muted", id: "explain-timeline" }, "The strategy asked the host nothing.");
  const total = Math.max(1, times.reduce((sum, time) => sum + (time.micros || 0), 0));
  let start = 0;
  const items = calls.map((call, index) => {
    const time = times[index] || { micros: 0, ahead: false };
    const span = element("span", { className: "span" });
    span.style.left = (100 * start / total).toFixed(2) + "%";
    span.style.width = (100 * (time.micros || 0) / total).toFixed(2) + "%";
    start += time.micros || 0;
    return element("li", { className: "host-call" + (time.ahead ? " ahead" : ""), "data-call": call.call, "data-ahead": time.ahead },
      element("span", { className: "step" }, index + 1),
      element("span", { className: "what" }, element("b", {}, call.call), " ", element("code", {}, question(call)),
        " → ", element("b", { className: "answer" }, String(call.answer))),
      element("span", {}, element("div", { className: "track" }, span),
        element("span", { className: "took" }, micros(time.micros) + (time.ahead ? ", answered ahead (sent with the first statement)" : ""))));
  });
  return element("div", {}, element("b", {}, "Host calls, in order (" + micros(total) + " in all; " + (trace.answeredAhead || 0) + " answered ahead)"),
    element("ol", { className: "timeline", id: "explain-timeline" }, items));
}

function question(call) {
  const parts = [];
  if (call.filter) parts.push(JSON.stringify(call.filter));
  if (call.role) parts.push(call.role);
  if (call.cap !== undefined && call.cap !== null) parts.push("cap " + call.cap);
  return parts.join(" ");
}

// From the strategy's count to the batch: what the host clamped it with.
function clamping(trace, outcome) {
  const box = (label, value, key) => element("span", { className: "box", "data-step": key }, label + " ", element("b", {}, value === null || value === undefined ? "–" : count(value)));
  const arrow = () => element("span", { className: "muted" }, "→");
  return element("div", { className: "clamp", id: "explain-clamp" },
    box("strategy's count", trace.strategyCount, "strategy-count"), arrow(),
    box("count cap", trace.countCap, "count-cap"), arrow(),
    box("already held", trace.contactsCount, "held"), arrow(),
    box("batch size", trace.batchSize, "batch-size"), arrow(),
    box("would assign", (trace.contactIds || []).length, "assigned"),
    element("span", { className: "muted" }, " · fuel " + count(trace.fuelUsed) +
      (outcome && trace.dryRun ? " · a dry run: " + (outcome.found ? "these contacts were not assigned" : "nothing would be assigned") : "")));
}

// --- start -------------------------------------------------------------------------------

document.getElementById("explain-form").addEventListener("submit", (event) => {
  event.preventDefault();
  explain(document.getElementById("explain-assignment").value, document.getElementById("explain-texter").value);
});

document.getElementById("auth").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = document.getElementById("token").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  document.getElementById("token").value = "";
  refresh();
  explainFromAddress();
});

// #explain=ASSIGNMENT or #explain=ASSIGNMENT:TEXTER explains on load (a colleague's link).
function explainFromAddress() {
  const wanted = /^#explain=(\d+)(?::(\d+))?$/.exec(location.hash);
  if (wanted) explain(wanted[1], wanted[2]);
}

window.addEventListener("hashchange", explainFromAddress);
document.addEventListener("visibilitychange", refresh);
// An earlier version of this page kept the token in local storage: it is not kept there now.
localStorage.removeItem("spoke-batches-token");
refresh();
explainFromAddress();
setInterval(refresh, REFRESH_MS);
