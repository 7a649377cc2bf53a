// avatarkit room page: join a LiveKit room with the vendored LiveKit JS client and show the
// avatar. The token comes from this server's POST /token (one room, short TTL).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const video = $("avatar");
  const state = { room: null, videoTrack: null, errors: [], transcript: [] };
  window.avatarkitRoom = state;

  function showError(text) {
    $("error").textContent = text;
    $("error").hidden = false;
    state.errors.push(text);
  }
  function clearError() { $("error").hidden = true; $("error").textContent = ""; }
  function notice(text) { $("notice").textContent = text; }
  function setConn(text, cls) { $("conn").textContent = text; $("conn").className = "pill " + (cls || ""); }
  function setPlaceholder(text) { $("placeholder").textContent = text; $("placeholder").hidden = !text; }
  // One line per transcription segment (lk.segment_id): interim and final streams of the
  // same segment update it, and the agent's text grows as it is spoken.
  const segments = new Map();
  function setLine(segment, role, text) {
    let line = segments.get(segment);
    if (!line) {
      const li = document.createElement("li");
      li.className = role === "you" ? "user" : "assistant";
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = role;
      const body = document.createElement("span");
      li.append(who, body);
      $("transcript").append(li);
      line = { body, entry: { role, text: "" } };
      segments.set(segment, line);
      state.transcript.push(line.entry);
    }
    line.body.textContent = text;
    line.entry.text = text;
  }

  const params = new URLSearchParams(location.search);
  $("room").value = params.get("room") || "avatarkit";
  if (params.get("name")) $("name").value = params.get("name");

  const LK = window.LivekitClient;
  if (!LK) {
    showError("The LiveKit client did not load (static/vendor/livekit-client.umd.js). " +
      "Reinstall avatarkit, or run scripts/vendor_livekit_client.sh in a checkout.");
    $("join").disabled = true;
    return;
  }
  $("client").textContent = "livekit-client " + LK.version;

  function isAvatar(p) {
    const a = (p && p.attributes) || {};
    return !!a["lk.publish_on_behalf"];
  }
  function describe(p) {
    const tags = [];
    if (p.isAgent || (LK.ParticipantKind && p.kind === LK.ParticipantKind.AGENT)) tags.push("agent");
    if (isAvatar(p)) tags.push("avatar for " + p.attributes["lk.publish_on_behalf"]);
    return (p.name || p.identity) + (tags.length ? " (" + tags.join(", ") + ")" : "");
  }
  function renderParticipants() {
    const room = state.room;
    if (!room) { $("participants").textContent = ""; return; }
    const names = Array.from(room.remoteParticipants.values()).map(describe);
    $("participants").textContent = names.length ? "In the room: " + names.join("; ") : "Nobody else is in the room yet.";
    room.remoteParticipants.forEach((p) => {
      const s = p.attributes && p.attributes["lk.agent.state"];
      if (s) { $("agent-state").textContent = "agent: " + s; $("agent-state").className = "pill state-" + s; }
    });
  }

  function onTrackSubscribed(track, publication, participant) {
    if (track.kind === "video") {
      // Prefer the avatar participant (publishes on behalf of the agent); else any video.
      if (!state.videoTrack || isAvatar(participant)) {
        if (state.videoTrack) state.videoTrack.detach(video);
        state.videoTrack = track;
        track.attach(video);
        setPlaceholder("");
        notice("Showing " + describe(participant) + ".");
      }
    } else if (track.kind === "audio") {
      const el = track.attach();
      $("audio").append(el);
    }
  }
  function onTrackUnsubscribed(track) {
    track.detach().forEach((el) => { if (el !== video) el.remove(); });
    if (track === state.videoTrack) {
      state.videoTrack = null;
      setPlaceholder("The avatar left.");
    }
  }

  async function join(event) {
    event.preventDefault();
    clearError();
    notice("");
    $("join").disabled = true;
    const body = { room: $("room").value.trim() };
    const name = $("name").value.trim();
    if (name) body.name = name;
    let data;
    try {
      const resp = await fetch("token", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      try { data = await resp.json(); } catch (e) { data = { error: "HTTP " + resp.status }; }
      if (!resp.ok) {
        showError("Could not get a join token: " + (data.error || "HTTP " + resp.status) +
          (data.hint ? " (" + data.hint + ")" : ""));
        $("join").disabled = false;
        return;
      }
    } catch (err) {
      showError("Cannot reach the token endpoint. Is `avatarkit serve` still running?");
      $("join").disabled = false;
      return;
    }
    const room = new LK.Room({ adaptiveStream: true, dynacast: true });
    state.room = room;
    room
      .on(LK.RoomEvent.TrackSubscribed, onTrackSubscribed)
      .on(LK.RoomEvent.TrackUnsubscribed, onTrackUnsubscribed)
      .on(LK.RoomEvent.ParticipantConnected, renderParticipants)
      .on(LK.RoomEvent.ParticipantDisconnected, renderParticipants)
      .on(LK.RoomEvent.ParticipantAttributesChanged, renderParticipants)
      .on(LK.RoomEvent.MediaDevicesError, (e) => showError("Microphone problem: " + e.message))
      .on(LK.RoomEvent.Disconnected, (reason) => {
        setConn("not connected", "");
        notice("Left the room" + (reason !== undefined ? " (reason " + reason + ")" : "") + ".");
        $("join").disabled = false;
        $("leave").disabled = true;
        state.room = null;
        renderParticipants();
      });
    try {
      room.registerTextStreamHandler("lk.transcription", async (reader, info) => {
        const attrs = (reader.info && reader.info.attributes) || {};
        const segment = attrs["lk.segment_id"] || (reader.info && reader.info.id) || Math.random();
        const role = info.identity === room.localParticipant.identity ? "you" : "avatar";
        let text = "";
        try {
          if (reader[Symbol.asyncIterator]) {
            for await (const chunk of reader) {
              text += chunk;
              if (text.trim()) setLine(segment, role, text);
            }
          } else {
            text = await reader.readAll();
            if (text.trim()) setLine(segment, role, text);
          }
        } catch (e) { /* the stream ended early (left the room): keep what arrived */ }
      });
    } catch (e) { /* older client: no text streams */ }
    setConn("connecting...", "warn");
    try {
      await room.connect(data.url, data.token);
    } catch (err) {
      showError("Could not connect to LiveKit at " + data.url + ": " + (err.message || err));
      setConn("not connected", "bad");
      $("join").disabled = false;
      state.room = null;
      return;
    }
    setConn("in room " + data.room, "ok");
    $("leave").disabled = false;
    renderParticipants();
    try {
      await room.localParticipant.setMicrophoneEnabled(true);
    } catch (err) {
      const n = err && err.name;
      showError(n === "NotAllowedError"
        ? "Microphone access was refused: allow it for this page (address bar icon) and join again."
        : "Could not open the microphone: " + (err.message || err));
    }
    if (room.canPlaybackAudio === false) notice("Click anywhere to hear the avatar.");
    document.addEventListener("click", () => room.startAudio(), { once: true });
  }

  $("join-form").addEventListener("submit", join);
  $("leave").addEventListener("click", () => { if (state.room) state.room.disconnect(); });
})();
