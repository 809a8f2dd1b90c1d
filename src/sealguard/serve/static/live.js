// The live page: draws the JSON API, and draws it again when the log changes (polled).
// Text from the log is only ever set with textContent: it is data, never markup.
"use strict";

const POLL_MS = 2000;
let seen = null;

// A token given once as #token=… (a fragment is never sent to the server) is kept for the tab.
function token() {
  const match = location.hash.match(/^#token=(.+)$/);
  if (match) {
    sessionStorage.setItem("sealguard-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("sealguard-token");
}

async function get(path) {
  const headers = {};
  const given = token();
  if (given) headers.Authorization = "Bearer " + given;
  const response = await fetch(path, { headers, cache: "no-store" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

function text(id, value) {
  document.getElementById(id).textContent = value === null || value === undefined ? "-" : String(value);
}

function row(cells, className) {
  const tr = document.createElement("tr");
  if (className) tr.className = className;
  for (const [value, cellClass] of cells) {
    const td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "-" : String(value);
    if (cellClass) td.className = cellClass;
    tr.appendChild(td);
  }
  return tr;
}

function drawStatus(status) {
  document.getElementById("banner").dataset.state = status.state;
  text("state", status.state);
  text("since", status.since);
  text("because", status.because);
  text("reason", status.reason);
  text("version", "v" + status.baseline_version);
  text("baseline", status.baseline_sha256 || "");
  text("next", status.next);
  text("last-decision", status.last_decision || "none");
  text("last-observation", status.last_observation_at || "none");
  text("last-audit", status.last_full_audit_at || "never");
  text("observation-count", status.observations);
  text("updated", new Date().toISOString().replace(/\.\d+Z$/, "Z"));
  const problem = document.getElementById("problem");
  problem.hidden = !status.log.problem;
  problem.textContent = status.log.problem || "";
  const body = document.querySelector("#escalations tbody");
  body.replaceChildren(...status.open_escalations.map((e) => row([
    [e.escalation_id], [e.event_id], [e.classification, "class"], [e.deadline_at],
    [e.overdue ? "OVERDUE" : e.seconds_left + " s left"],
    [e.deliveries.map((d) => d.channel + ": " + d.state).join(", ")],
  ], e.classification + (e.overdue ? " overdue" : ""))));
  document.getElementById("no-escalation").hidden = status.open_escalations.length > 0;
}

function drawObservations(found) {
  const body = document.querySelector("#observations tbody");
  body.replaceChildren(...found.observations.map((o) => row([
    [o.observed_at], [o.event_id], [o.classification, "class"], [o.purpose],
  ], o.classification)));
}

async function draw(version) {
  const [status, found] = await Promise.all([get("/api/status"), get("/api/observations?limit=50")]);
  drawStatus(status);
  drawObservations(found);
  seen = version || status.log.version;
  document.body.dataset.logVersion = seen;
}

async function poll() {
  try {
    const log = await get("/api/log");
    if (log.version !== seen) await draw(log.version);
  } catch (error) {
    const problem = document.getElementById("problem");
    problem.hidden = false;
    problem.textContent = "the server cannot be read: " + error.message;
  }
  setTimeout(poll, POLL_MS);
}

poll();
