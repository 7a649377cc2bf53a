// avatarkit playground: what the page shows (status pills, errors, the transcript, the
// latency table). Plain DOM, no session state: playground.js drives it.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);

  // -- UI helpers -----------------------------------------------------------------------
  function showError(text) {
    const box = $("error");
    box.textContent = text;
    box.hidden = false;
  }
  function clearError() { $("error").hidden = true; $("error").textContent = ""; }
  function notice(text) { $("notice").textContent = text; }
  function setConn(text, cls) { const el = $("conn"); el.textContent = text; el.className = "pill " + (cls || ""); }
  function setPlaceholder(text) { const el = $("placeholder"); el.textContent = text; el.hidden = !text; }
  function setAgentState(state) {
    const el = $("agent-state");
    el.textContent = "agent: " + state;
    el.className = "pill state-" + state;
    el.dataset.state = state;
  }

  function micMessage(err) {
    const name = (err && err.name) || "Error";
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError")
      return "Microphone access was refused. Allow the microphone for this page (the icon at the " +
        "left of the address bar), then press Start again.";
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError")
      return "No microphone was found. Connect one (or choose one in the browser's settings) and " +
        "press Start again.";
    if (name === "NotReadableError" || name === "TrackStartError")
      return "The microphone could not be opened: another program may be using it.";
    return "Could not open the microphone (" + name + ": " + ((err && err.message) || "") + ").";
  }

  // -- transcript and latency ---------------------------------------------------------------
  function addLine(role, text, cls) {
    const li = document.createElement("li");
    li.className = role + (cls ? " " + cls : "");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "you" : "avatar";
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    li.append(who, body);
    $("transcript").append(li);
    li.scrollIntoView({ block: "nearest" });
    return li;
  }
  function setLine(li, text, interim) {
    li.querySelector(".text").textContent = text;
    li.classList.toggle("interim", !!interim);
  }

  function fmt(v) { return typeof v === "number" && isFinite(v) ? v.toFixed(3) : "-"; }
  function renderLatency(stages, turns) {
    const table = $("latency");
    const head = table.querySelector("thead tr");
    head.innerHTML = "<th>stage</th>";
    turns.forEach((t) => {
      const th = document.createElement("th");
      th.textContent = "turn " + t.index;
      head.append(th);
    });
    const rows = stages.map(([label, key]) => [label, (t) => t.latencies[key]]);
    rows.push(["server: speech end -> first frame sent", (t) => t.server_speech_end_to_first_frame]);
    rows.push(["page: speech end -> first frame shown", (t) => t.page_speech_end_to_first_frame]);
    const body = table.querySelector("tbody");
    body.innerHTML = "";
    rows.forEach(([label, get]) => {
      const tr = document.createElement("tr");
      const th = document.createElement("td");
      th.textContent = label;
      tr.append(th);
      turns.forEach((t) => {
        const td = document.createElement("td");
        td.textContent = fmt(get(t));
        tr.append(td);
      });
      body.append(tr);
    });
  }

  window.avatarkitView = {
    showError, clearError, notice, setConn, setPlaceholder, setAgentState, micMessage,
    addLine, setLine, fmt, renderLatency,
  };
})();
