// The operators' stream page: opens a cookie session with a pasted token, then renders each
// `figures` event. Values are set with textContent only: nothing received is parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let source = null;

function setStatus(text, bad) {
  $("status").textContent = text;
  $("status").classList.toggle("bad", Boolean(bad));
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function fill(tbodyId, items, render) {
  const body = $(tbodyId);
  const rows = items.map((item) => {
    const row = document.createElement("tr");
    render(row, item);
    return row;
  });
  body.replaceChildren(...rows);
}

function render(figures) {
  fill("topics", figures.topics, (row, t) => {
    row.dataset.topic = t.topic;
    cell(row, t.topic);
    cell(row, t.end_offset, "n end-offset");
    cell(row, t.events_per_second === null ? null : t.events_per_second.toFixed(1), "n rate");
  });
  fill("groups", figures.groups, (row, g) => {
    row.dataset.group = g.group;
    cell(row, g.group);
    cell(row, g.state || "?");
    cell(row, g.members, "n");
    cell(row, g.lag, "n lag");
    cell(row, Object.entries(g.lag_by_topic).map(([t, lag]) => `${t}: ${lag}`).join(", "));
  });
  $("dead-letter-count").textContent = String(figures.dead_letters_last_hour);
  fill("dead-letters", figures.recent_dead_letters, (row, d) => {
    cell(row, d.failed_at);
    cell(row, d.consumer);
    cell(row, d.origin_topic);
    cell(row, d.event_type);
    cell(row, d.reason);
  });
  fill("outboxes", figures.outboxes, (row, o) => {
    row.dataset.service = o.service;
    cell(row, o.service);
    if (o.error) {
      cell(row, `unreachable (${o.error})`, "n bad backlog");
      cell(row, null, "n");
    } else {
      cell(row, o.backlog, "n backlog");
      cell(row, o.oldest_age_seconds === null ? null : o.oldest_age_seconds.toFixed(1), "n");
    }
  });
  const broker = figures.broker_error ? ` · broker failing (${figures.broker_error})` : "";
  setStatus(`live · sampled ${figures.taken_at}${broker}`, Boolean(figures.broker_error));
}

function showLogin(message) {
  if (source) source.close();
  source = null;
  $("figures").hidden = true;
  $("login").hidden = false;
  setStatus(message, true);
}

function connect() {
  source = new EventSource("/stream/events");
  source.addEventListener("figures", (event) => {
    $("login").hidden = true;
    $("figures").hidden = false;
    render(JSON.parse(event.data));
  });
  source.addEventListener("expired", () => showLogin("token expired: paste a new one"));
  source.onerror = () => {
    // A refused connection (401/403) closes the source; a dropped one is retried by the browser.
    if (source && source.readyState === EventSource.CLOSED) showLogin("sign in with an operator token");
    else setStatus("reconnecting…", true);
  };
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  const answer = await fetch("/stream/session", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    credentials: "same-origin",
  });
  $("token").value = "";
  if (answer.status !== 204) {
    const detail = (await answer.json().catch(() => ({}))).detail || answer.statusText;
    $("login-error").textContent = `refused (${answer.status}): ${detail}`;
    return;
  }
  $("login-error").textContent = "";
  setStatus("connecting…");
  connect();
});

connect();
