// The admin page: the token form, the tabs, and the wiring of the live event stream into
// the agents table and the open agent's detail. Every view calls the API with the token the
// user entered; a 401 or 403 is shown in the banner as the API said it.

import { token, setToken, onAuthError } from "./api.js";
import { follow } from "./events.js";
import { createAgents } from "./agents.js";
import { createDetail } from "./detail.js";
import { showScheduler, showProviders } from "./system.js";
import { createUsageChart } from "./chart.js";
import { createAudit } from "./audit.js";

const banner = document.getElementById("banner");
const conn = document.getElementById("conn");

function showBanner(text, info) {
  banner.textContent = text;
  banner.className = "banner" + (info ? " info" : "");
  banner.hidden = !text;
}

function showError(e) {
  if (e && (e.status === 401 || e.status === 403)) {
    return; // already shown by the auth listener
  }
  showBanner(e && e.message ? e.message : String(e));
}

onAuthError((e) => {
  const what = e.status === 401
    ? "401 Unauthorized: the API does not accept this token. Enter a valid bearer token above."
    : "403 Forbidden: " + (e.detail || "this token's role may not do that") + ".";
  showBanner(what);
});

const agents = createAgents(document.getElementById("agents"), document.getElementById("agents-count"),
  (pid) => detail.show(pid), showError);
const detail = createDetail(agents);
const chart = createUsageChart(document.getElementById("usage-chart"), document.getElementById("usage-now"), 5000, showError);
const audit = createAudit(showError);

let stream = null;
let view = "agents";

const refreshers = {
  agents: () => agents.refresh(),
  scheduler: () => showScheduler().catch(showError),
  providers: () => showProviders().catch(showError),
  usage: () => chart.draw(),
  audit: () => audit.query(),
};

function setStatus(state, detailText) {
  conn.className = "conn " + state;
  conn.textContent = state === "live" ? "live" : state === "retry" ? "reconnecting" : "offline";
  conn.title = detailText || "live event stream";
  if (state === "live") {
    agents.scheduleRefresh(); // catch up on whatever happened while disconnected
  }
}

/** (Re)starts everything with the current token. */
function connect() {
  if (stream) {
    stream.stop();
  }
  chart.stop();
  showBanner("");
  agents.clear();
  detail.hide();
  if (!token()) {
    setStatus("off", "no token");
    showBanner("Enter a bearer token (admin, operator or viewer) to see the kernel.", true);
    return;
  }
  stream = follow((name, data, id) => {
    if (id !== null) {
      conn.dataset.lastEvent = id;
      conn.title = "live event stream; last event id " + id + " (" + name + ")";
    }
    agents.onEvent(name, data);
    detail.onEvent(name, data);
  }, setStatus);
  agents.refresh();
  chart.start();
  refreshers[view]();
}

function switchTo(name) {
  view = name;
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.view === name));
  document.querySelectorAll("main .view").forEach((s) => { s.hidden = s.id !== "view-" + name; });
  if (token()) {
    refreshers[name]();
  }
}

document.getElementById("tabs").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-view]");
  if (b) {
    switchTo(b.dataset.view);
  }
});
document.querySelectorAll("button[data-refresh]").forEach((b) =>
  b.addEventListener("click", () => refreshers[b.dataset.refresh]()));

const input = document.getElementById("token");
document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setToken(input.value.trim());
  input.value = "";
  input.placeholder = token() ? "token set for this tab" : "paste an API token";
  connect();
});
document.getElementById("token-forget").addEventListener("click", () => {
  setToken("");
  input.placeholder = "paste an API token";
  connect();
});

if (token()) {
  input.placeholder = "token set for this tab";
}
connect();
