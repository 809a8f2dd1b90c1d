// The live page: the auditor's report of the whole log (/report.html, made by the server from
// the log), drawn in this page and drawn again whenever the log changes (/api/log, polled).
// The report holds no script; what it holds is imported as parsed nodes, never run.
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
  return response;
}

function problem(text) {
  const shown = document.getElementById("problem");
  shown.hidden = !text;
  shown.textContent = text || "";
}

async function draw(version) {
  const page = await (await get("/report.html")).text();
  const parsed = new DOMParser().parseFromString(page, "text/html");
  document.getElementById("report-style").textContent = Array.from(
    parsed.querySelectorAll("head style"), (style) => style.textContent).join("\n");
  document.getElementById("report").replaceChildren(
    ...Array.from(parsed.body.childNodes, (node) => document.importNode(node, true)));
  seen = version;
  document.body.dataset.logVersion = version;
  document.getElementById("updated").textContent = new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

async function poll() {
  try {
    const log = await (await get("/api/log")).json();
    if (log.version !== seen) await draw(log.version);
    problem(null);
  } catch (error) {
    problem("the server cannot be read: " + error.message);
  }
  setTimeout(poll, POLL_MS);
}

poll();
