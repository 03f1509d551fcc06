// The Quickstep console: plain JavaScript, no build step. It reads executions from the
// gateway's console API (/console/api/…) and speaks the Step Functions API itself (the same
// JSON 1.0 calls as the AWS CLI) for state machines, validation and StartSyncExecution.
// Graphs are laid out by dagre (vendored, see vendor.sh) and drawn here as SVG.
"use strict";

const main = document.getElementById("main");
const API = location.pathname.replace(/\/console\/.*$/, "/");

// ---- small helpers ------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  // Blocks of JSON scroll: keyboard users must be able to reach them (WCAG 2.1.1).
  if (tag === "pre") node.tabIndex = 0;
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

async function aws(operation, body) {
  const response = await fetch(API, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "AWSStepFunctions." + operation },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error((answer.__type || response.status) + ": " + (answer.message || ""));
  return answer;
}

async function consoleApi(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) if (value) query.set(key, value);
  const response = await fetch(`${API}console/api/${path}?${query}`);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.message || response.statusText);
  return answer;
}

const time = (seconds) => (seconds === undefined ? "" : new Date(seconds * 1000).toISOString().replace("T", " ").replace("Z", ""));
const duration = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);
const pretty = (text) => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; } };
const statusBadge = (status) => el("span", { class: `status ${status}` }, status);
const executionLink = (arn, text) => el("a", { href: "#/execution/" + encodeURIComponent(arn) }, text || arn);
const machineLink = (arn, text) => el("a", { href: "#/state-machine/" + encodeURIComponent(arn) }, text || arn.split(":").pop());

function show(title, ...children) {
  document.title = `${title} · Quickstep console`;
  main.replaceChildren(...children);
}

function failure(error) {
  return el("div", { class: "banner", role: "alert" }, el("strong", {}, "Something went wrong"), String(error.message || error));
}

// ---- routing --------------------------------------------------------------------------------

let stopLive = () => {};

async function route() {
  stopLive();
  const hash = decodeURIComponent(location.hash.slice(1) || "/");
  try {
    if (hash.startsWith("/execution/")) await executionPage(hash.slice("/execution/".length));
    else if (hash.startsWith("/state-machine/")) await machinePage(hash.slice("/state-machine/".length));
    else if (hash.startsWith("/state-machines")) await machinesPage();
    else await listPage();
  } catch (error) {
    show("Error", failure(error));
  }
}
window.addEventListener("hashchange", route);

// ---- executions list ------------------------------------------------------------------------

const STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];

async function listPage() {
  const { stateMachines } = await aws("ListStateMachines", { maxResults: 1000 });
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const field = (name, label, input) => el("label", {}, label, input);
  const machine = el("select", { id: "f-machine", name: "stateMachineArn" },
    el("option", { value: "" }, "All"),
    stateMachines.map((m) => el("option", { value: m.stateMachineArn, selected: params.get("stateMachineArn") === m.stateMachineArn }, m.name)));
  const status = el("select", { id: "f-status", name: "status" }, el("option", { value: "" }, "Any"),
    STATUSES.map((s) => el("option", { value: s, selected: params.get("status") === s }, s)));
  const from = el("input", { id: "f-from", name: "from", type: "datetime-local", step: "1", value: params.get("from") || "" });
  const to = el("input", { id: "f-to", name: "to", type: "datetime-local", step: "1", value: params.get("to") || "" });
  const name = el("input", { id: "f-name", name: "name", type: "text", value: params.get("name") || "", placeholder: "exact name" });
  const key = el("input", { id: "f-key", name: "idempotencyKey", type: "text", value: params.get("idempotencyKey") || "", placeholder: "exact key" });
  const live = el("input", { id: "f-live", type: "checkbox", checked: true });
  const state = el("p", { class: "muted", role: "status", "aria-live": "polite" });
  const rows = el("tbody");
  const more = el("button", { type: "button", hidden: true }, "Load more");
  let next = null;

  const filters = () => {
    const iso = (value) => (value ? String(Date.parse(value + "Z")) : "");
    return {
      stateMachineArn: machine.value, status: status.value, from: iso(from.value), to: iso(to.value),
      name: name.value.trim(), idempotencyKey: key.value.trim(),
    };
  };
  const row = (e) => el("tr", { "data-arn": e.executionArn },
    el("td", {}, executionLink(e.executionArn, e.name)),
    el("td", {}, statusBadge(e.status)),
    el("td", {}, machineLink(e.stateMachineArn)),
    el("td", { class: "mono" }, time(e.startDate)),
    el("td", { class: "mono" }, e.stopDate !== undefined ? duration((e.stopDate - e.startDate) * 1000) : "running"),
    el("td", { class: "mono" }, e.idempotencyKey || ""));
  const load = async (append) => {
    const page = await consoleApi("executions", { ...filters(), nextToken: append ? next : "" });
    next = page.nextToken || null;
    more.hidden = !next;
    const built = page.executions.map(row);
    if (append) rows.append(...built); else rows.replaceChildren(...built);
    state.textContent = `${rows.children.length} execution(s) shown${live.checked && !append ? ", updating live" : ""}.`;
  };
  const form = el("form", { class: "filters", "aria-label": "Filter executions", onsubmit: (event) => { event.preventDefault(); load(false).catch(report); } },
    field("machine", "State machine", machine), field("status", "Status", status),
    field("from", "Started from (UTC)", from), field("to", "Started before (UTC)", to),
    field("name", "Execution name", name), field("key", "Idempotency key", key),
    el("button", { type: "submit", class: "primary" }, "Apply filters"),
    el("label", { class: "inline" }, el("span", {}, "Live updates"), live));
  const report = (error) => { state.textContent = String(error.message || error); };
  more.addEventListener("click", () => load(true).catch(report));
  // Live: the first page again every 2 s, unless paused or the user paged further.
  const timer = setInterval(() => { if (live.checked && !document.hidden && rows.children.length <= 100) load(false).catch(report); }, 2000);
  stopLive = () => clearInterval(timer);
  live.addEventListener("change", () => { state.textContent = live.checked ? "Live updates on." : "Live updates paused."; });
  show("Executions",
    el("h1", {}, "Executions"),
    form, state,
    el("table", { id: "executions" },
      el("caption", { class: "visually-hidden" }, "Executions, newest first"),
      el("thead", {}, el("tr", {}, ["Name", "Status", "State machine", "Started (UTC)", "Duration", "Idempotency key"].map((h) => el("th", { scope: "col" }, h)))),
      rows),
    more);
  await load(false);
}

// ---- state machine graph --------------------------------------------------------------------

// The transitions of a definition's top level: Next, Default, Choices and Catch targets.
function transitions(definition) {
  const edges = [];
  for (const [name, state] of Object.entries(definition.States || {})) {
    const add = (to, label) => { if (to && definition.States[to]) edges.push({ from: name, to, label }); };
    add(state.Next);
    add(state.Default, "default");
    for (const choice of state.Choices || []) add(choice.Next, "choice");
    for (const katch of state.Catch || []) add(katch.Next, "catch");
  }
  return edges;
}

function drawGraph(definition, outcome, label) {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 40, marginx: 12, marginy: 12 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const [name, state] of Object.entries(definition.States || {})) {
    // Room for the name, and for "Type · not reached" under it.
    const width = Math.max(110, Math.min(280, 16 + 7.2 * Math.max(name.length, state.Type.length + 14)));
    graph.setNode(name, { width, height: 46, type: state.Type });
  }
  for (const edge of transitions(definition)) graph.setEdge(edge.from, edge.to, { label: edge.label });
  dagre.layout(graph);
  const { width, height } = graph.graph();
  const root = svg("svg", { width: Math.max(width, 200), height, viewBox: `0 0 ${Math.max(width, 200)} ${height}`, role: "img", "aria-label": label });
  root.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
    svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#57606a" }))));
  for (const e of graph.edges()) {
    const points = graph.edge(e).points;
    root.append(svg("path", { class: "edge", d: "M" + points.map((p) => `${p.x},${p.y}`).join(" L"), "marker-end": "url(#arrow)" }));
  }
  for (const name of graph.nodes()) {
    const node = graph.node(name);
    const what = outcome ? outcome(name) || "not-reached" : "plain";
    const group = svg("g", { class: `node ${what}`, "data-state": name, "data-outcome": what, transform: `translate(${node.x - node.width / 2},${node.y - node.height / 2})` });
    const title = svg("title");
    title.textContent = `${name} (${node.type})${outcome ? ": " + what.replace("-", " ") : ""}`;
    const text = (y, value, weight) => { const t = svg("text", { x: node.width / 2, y, "text-anchor": "middle", "font-weight": weight || "400" }); t.textContent = value; return t; };
    group.append(title, svg("rect", { width: node.width, height: node.height, rx: 6 }), text(20, name, "600"), text(36, node.type + (outcome && what !== "not-reached" ? " · " + what.replace("-", " ") : "")));
    root.append(group);
  }
  return el("div", { class: "graph", tabindex: "0" }, root);
}

function legend() {
  return el("p", { class: "legend", "aria-label": "Legend" },
    ["succeeded", "failed", "caught", "retried", "not-reached"].map((k) => el("span", { class: "lg-" + k }, k.replace("-", " "))));
}

// ---- execution page -------------------------------------------------------------------------

const ERROR_TYPES = /(Failed|TimedOut|Aborted)$/;
const ATTEMPT_TYPES = /^(TaskScheduled|LambdaFunctionScheduled|ActivityScheduled)$/;

// What each state did, from the history: entered/exited, attempts, errors, input, output.
function statesOf(events, execution) {
  const states = new Map();
  let current = null;
  for (const event of events) {
    const entered = event.stateEnteredEventDetails;
    const exited = event.stateExitedEventDetails;
    if (entered) {
      current = entered.name;
      const state = states.get(current) || { name: current, attempts: 0, errors: 0, lastWasError: false, visits: 0 };
      state.visits += 1;
      state.enteredAt = state.enteredAt || event.timestamp;
      state.input = entered.input;
      state.type = event.type.replace("StateEntered", "");
      states.set(current, state);
    } else if (exited) {
      const state = states.get(exited.name);
      if (state) { state.exitedAt = event.timestamp; state.output = exited.output; state.exited = true; }
      current = null;
    } else if (current && states.has(current) && !event.type.startsWith("Execution")) {
      const state = states.get(current);
      if (ATTEMPT_TYPES.test(event.type)) { state.attempts += 1; state.lastWasError = false; }
      if (ERROR_TYPES.test(event.type)) {
        state.errors += 1; state.lastWasError = true;
        const details = Object.values(event).find((v) => v && typeof v === "object" && (v.error || v.cause));
        if (details) state.error = details;
      }
    }
  }
  for (const state of states.values()) {
    if (!state.exited) state.outcome = execution.status === "RUNNING" ? "running" : "failed";
    else if (state.errors && state.lastWasError) state.outcome = "caught";
    else if (state.errors || state.attempts > 1) state.outcome = "retried";
    else state.outcome = "succeeded";
    state.end = state.exitedAt || execution.stopDate || state.enteredAt;
  }
  return states;
}

function eventSummary(event) {
  const details = Object.entries(event).find(([key]) => key.endsWith("EventDetails"));
  if (!details) return "";
  const d = details[1];
  return [d.name, d.resource, d.error, d.cause].filter(Boolean).join(" · ");
}

async function executionPage(arn) {
  const { execution, events, source, brokers } = await consoleApi("execution", { executionArn: arn });
  let definition = null;
  try {
    const machine = await aws("DescribeStateMachineForExecution", { executionArn: arn });
    definition = JSON.parse(machine.definition);
  } catch (error) { /* a deleted state machine: no graph */ }
  const states = statesOf(events, execution);
  const stop = execution.stopDate;
  const parts = [
    el("p", {}, el("a", { href: "#/" }, "← Executions")),
    el("h1", {}, "Execution ", execution.name),
  ];
  if (execution.error || execution.cause) {
    parts.push(el("div", { class: "banner", role: "alert", id: "error-banner" },
      el("strong", {}, execution.error || "Error"), execution.cause || ""));
  }
  const summary = el("dl", { class: "summary" },
    el("dt", {}, "Status"), el("dd", {}, statusBadge(execution.status)),
    el("dt", {}, "State machine"), el("dd", {}, machineLink(execution.stateMachineArn, execution.stateMachineArn)),
    el("dt", {}, "Execution ARN"), el("dd", { class: "mono" }, execution.executionArn),
    el("dt", {}, "Started (UTC)"), el("dd", { class: "mono" }, time(execution.startDate)),
    el("dt", {}, "Duration"), el("dd", {}, stop !== undefined ? duration((stop - execution.startDate) * 1000) : "running"),
    el("dt", {}, "Idempotency key"), el("dd", { class: "mono" }, execution.idempotencyKey || "none"),
    el("dt", {}, "Start record"), el("dd", { class: "mono" }, source
      ? el("span", { id: "start-record" }, `${source.topic} / partition ${source.partition} / offset ${source.offset}`,
        el("br"), el("code", {}, `kcat -b ${brokers} -C -t ${source.topic} -p ${source.partition} -o ${source.offset} -c 1`))
      : "none (a synchronous execution)"));
  parts.push(summary);
  if (definition) {
    parts.push(el("h2", {}, "Graph"), legend(), drawGraph(definition, (name) => states.get(name)?.outcome, `Graph of ${execution.name}: each state coloured by what it did`));
  }
  parts.push(el("h2", {}, "Timeline"), timeline(states, execution));
  parts.push(el("h2", {}, "States: input and output"), stateIo(states));
  parts.push(el("h2", {}, "Events"), eventTable(events));
  parts.push(el("h2", {}, "Input and output"), el("div", { class: "io" },
    el("div", {}, el("h3", {}, "Input"), el("pre", {}, execution.input !== undefined ? pretty(execution.input) : "not recorded")),
    el("div", {}, el("h3", {}, "Output"), el("pre", {}, execution.output !== undefined ? pretty(execution.output) : "none"))));
  show(`Execution ${execution.name}`, ...parts);
}

function timeline(states, execution) {
  const list = [...states.values()];
  if (!list.length) return el("p", { class: "muted" }, "No state events recorded (history off or level below ALL).");
  const start = execution.startDate;
  const span = Math.max((execution.stopDate || Math.max(...list.map((s) => s.end))) - start, 0.001);
  return el("div", { class: "timeline", id: "timeline" }, list.map((s) =>
    el("div", { class: "bar-row" },
      el("span", {}, s.name),
      el("div", { class: "track", role: "img", "aria-label": `${s.name}: ${duration((s.end - s.enteredAt) * 1000)}` },
        el("div", { class: "bar" + (s.outcome === "failed" ? " failed" : ""), style: `left:${((s.enteredAt - start) / span) * 100}%;width:${((s.end - s.enteredAt) / span) * 100}%` })),
      el("span", { class: "mono" }, duration((s.end - s.enteredAt) * 1000)))));
}

function stateIo(states) {
  const list = [...states.values()];
  if (!list.length) return el("p", { class: "muted" }, "None recorded.");
  return el("div", { id: "state-io" }, list.map((s) => el("details", {},
    el("summary", {}, `${s.name} — ${s.outcome}`),
    el("div", { class: "io" },
      el("div", {}, el("h3", {}, "Input"), el("pre", {}, s.input !== undefined ? pretty(s.input) : "not recorded")),
      el("div", {}, el("h3", {}, "Output"), el("pre", {}, s.output !== undefined ? pretty(s.output) : s.error ? pretty(JSON.stringify(s.error)) : "none"))))));
}

function eventTable(events) {
  const filter = el("input", { id: "event-filter", type: "search", placeholder: "type, state name, error…" });
  const body = el("tbody");
  const rows = events.map((event) => {
    const json = el("tr", { class: "json", hidden: true }, el("td", { colspan: 5 }, el("pre", {}, JSON.stringify(event, null, 2))));
    const toggle = el("button", { type: "button", "aria-expanded": "false", "aria-label": `Show JSON of event ${event.id}` }, "JSON");
    toggle.addEventListener("click", () => {
      json.hidden = !json.hidden;
      toggle.setAttribute("aria-expanded", String(!json.hidden));
    });
    const summary = eventSummary(event);
    const row = el("tr", { class: "event", "data-type": event.type },
      el("td", {}, event.id), el("td", {}, event.type), el("td", {}, summary),
      el("td", { class: "mono" }, time(event.timestamp)), el("td", {}, toggle));
    return { row, json, text: `${event.type} ${summary}`.toLowerCase() };
  });
  for (const r of rows) body.append(r.row, r.json);
  filter.addEventListener("input", () => {
    const q = filter.value.toLowerCase();
    for (const r of rows) {
      r.row.hidden = !r.text.includes(q);
      if (r.row.hidden) r.json.hidden = true;
    }
  });
  return el("div", {},
    el("label", {}, "Filter events ", filter),
    el("table", { id: "events" },
      el("caption", { class: "visually-hidden" }, "History events"),
      el("thead", {}, el("tr", {}, ["Id", "Type", "Details", "Time (UTC)", "Raw"].map((h) => el("th", { scope: "col" }, h)))),
      body));
}

// ---- state machines -------------------------------------------------------------------------

async function machinesPage() {
  const { stateMachines } = await aws("ListStateMachines", { maxResults: 1000 });
  show("State machines", el("h1", {}, "State machines"),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Type"), el("th", { scope: "col" }, "Created (UTC)"))),
      el("tbody", {}, stateMachines.map((m) => el("tr", {}, el("td", {}, machineLink(m.stateMachineArn, m.name)), el("td", {}, m.type), el("td", { class: "mono" }, time(m.creationDate)))))));
}

async function machinePage(arn) {
  const machine = await aws("DescribeStateMachine", { stateMachineArn: arn });
  const definition = JSON.parse(machine.definition);
  const validation = await aws("ValidateStateMachineDefinition", { definition: machine.definition, type: machine.type });
  const diagnostics = validation.diagnostics.length
    ? el("ul", { id: "diagnostics" }, validation.diagnostics.map((d) => el("li", { class: d.severity === "ERROR" ? "diag-error" : "" }, `${d.severity} ${d.code}: ${d.message}${d.location ? " at " + d.location : ""}`)))
    : el("p", { id: "diagnostics" }, "Valid: no diagnostics.");
  const input = el("textarea", { id: "start-input", spellcheck: "false" }, "{}");
  const name = el("input", { id: "start-name", type: "text", placeholder: "generated when empty" });
  const result = el("div", { id: "start-result", "aria-live": "polite" });
  const cli = el("pre", { id: "cli-command" });
  const command = () => {
    const quote = (text) => `'${text.replace(/'/g, "'\\''")}'`;
    let compact = input.value;
    try { compact = JSON.stringify(JSON.parse(input.value)); } catch { /* shown as typed */ }
    return `aws stepfunctions start-sync-execution --endpoint-url ${location.origin} --state-machine-arn ${arn}` +
      (name.value.trim() ? ` --name ${quote(name.value.trim())}` : "") + ` --input ${quote(compact)}`;
  };
  const refresh = () => { cli.textContent = command(); };
  input.addEventListener("input", refresh);
  name.addEventListener("input", refresh);
  refresh();
  const start = async (event) => {
    event.preventDefault();
    result.replaceChildren(el("p", {}, "Running…"));
    try {
      JSON.parse(input.value);
    } catch (error) {
      result.replaceChildren(el("div", { class: "banner", role: "alert" }, el("strong", {}, "The input is not JSON"), String(error.message)));
      return;
    }
    try {
      const body = { stateMachineArn: arn, input: input.value };
      if (name.value.trim()) body.name = name.value.trim();
      const out = await aws("StartSyncExecution", body);
      result.replaceChildren(
        el("p", {}, statusBadge(out.status), " ", executionLink(out.executionArn, "open the execution")),
        out.error ? el("div", { class: "banner", role: "alert" }, el("strong", {}, out.error), out.cause || "") : null,
        el("pre", {}, out.output !== undefined ? pretty(out.output) : ""));
    } catch (error) {
      result.replaceChildren(failure(error));
    }
  };
  const copy = el("button", { type: "button", onclick: async () => {
    try { await navigator.clipboard.writeText(cli.textContent); copy.textContent = "Copied"; } catch { copy.textContent = "Select the text to copy"; }
  } }, "Copy command");
  show(`State machine ${machine.name}`,
    el("p", {}, el("a", { href: "#/state-machines" }, "← State machines"), " · ",
      el("a", { href: "#/?stateMachineArn=" + encodeURIComponent(arn) }, "its executions")),
    el("h1", {}, "State machine ", machine.name),
    el("h2", {}, "Graph"), drawGraph(definition, null, `Graph of state machine ${machine.name}`),
    el("h2", {}, "Validation"), diagnostics,
    el("h2", {}, "Start a synchronous execution"),
    el("form", { id: "start-form", onsubmit: start },
      el("label", { for: "start-input" }, "Input (JSON)"), input,
      el("p", {}, el("label", {}, "Name ", name)),
      el("button", { type: "submit", class: "primary" }, "Start execution")),
    result,
    el("h2", {}, "The same with the AWS CLI"), cli, copy,
    el("h2", {}, "Definition"), el("pre", { id: "definition" }, JSON.stringify(definition, null, 2)));
}

route();
