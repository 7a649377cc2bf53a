// avatarkit playground: the browser side of a peer-to-peer WebRTC session with aiortc.
// Plain JS, no build step. Order matters: getUserMedia before createOffer, and the offer is
// POSTed only once ICE gathering is complete (aiortc does not trickle candidates).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const video = $("avatar");
  const LOUD = 0.01; // RMS of full scale (-40 dBFS): "someone is speaking"
  const query = new URLSearchParams(location.search);
  const CONNECT_TIMEOUT_S = Number(query.get("connect_timeout")) || 20;
  const stats = {
    connectedAt: null, firstFrameAt: null, frames: 0, lastFrameAt: null,
    micPeak: 0, remotePeak: 0, speechEnds: [], replies: [], turns: [], messages: [],
    controls: [], events: [], ready: null, ended: null, faceStates: [],
    // [presentation time (ms, performance.now() clock), frames presented so far, the
    // frame's RTP timestamp, when its last packet arrived (ms)] per frame callback, the
    // last frameLogMax of them: the benchmarks' fps over time windows and video delays
    frameLog: [], frameLogMax: 7500,
  };
  let pc = null, dc = null, mic = null, remote = null, audioCtx = null, meterTimer = null;
  let connectTimer = null, hasVideo = true, stages = [], userLi = null, pending = null;
  let userFinal = "", active = false, frameCb = null;

  // -- what the page shows (playground-view.js) ------------------------------------------
  const view = window.avatarkitView;
  const { clearError, notice, setConn, setPlaceholder, setAgentState, micMessage } = view;
  const { addLine, setLine } = view;
  function showError(text) {
    view.showError(text);
    stats.events.push({ type: "page_error", text });
  }
  function renderLatency() { view.renderLatency(stages, stats.turns); }

  // -- controls --------------------------------------------------------------------------
  function setupControls(caps) {
    const emotions = (caps && caps.emotions) || [];
    const box = $("emotions");
    box.innerHTML = "";
    emotions.forEach((name) => {
      const b = document.createElement("button");
      b.textContent = name;
      b.dataset.emotion = name;
      b.addEventListener("click", () => {
        send({ type: "emotion", name, intensity: parseFloat($("intensity").value) });
        box.querySelectorAll("button").forEach((x) => x.classList.toggle("active", x === b));
      });
      box.append(b);
    });
    $("emotion-controls").hidden = emotions.length === 0;
    const bg = !!(caps && caps.background);
    $("background-controls").hidden = !bg;
    const select = $("background");
    select.innerHTML = "";
    const choices = (caps && caps.backgrounds) || [];
    choices.forEach((value) => {
      const opt = document.createElement("option");
      opt.value = value;
      opt.textContent = value;
      select.append(opt);
    });
    select.hidden = choices.length === 0;
    $("controls").hidden = emotions.length === 0 && !bg;
  }
  // what the face shows now; `by` is "agent" (its set_emotion/set_background tools) or "page"
  function showFaceState(state, by) {
    if (!state.emotion && !state.background) { $("face-shown").textContent = ""; return; }
    const parts = [];
    if (state.emotion) parts.push("emotion: " + state.emotion);
    if (state.background) parts.push("background: " + state.background);
    $("face-shown").textContent = "Showing " + parts.join(", ") +
      (by === "agent" ? " (set by the agent)" : by === "page" ? " (set here)" : "");
    $("emotions").querySelectorAll("button").forEach(
      (b) => b.classList.toggle("active", b.dataset.emotion === state.emotion));
  }
  $("background").addEventListener("change", (e) => send({ type: "background", value: e.target.value }));
  $("background-color").addEventListener("change", (e) => send({ type: "background", value: e.target.value }));
  $("mute").addEventListener("change", (e) => {
    if (mic) mic.getAudioTracks().forEach((t) => { t.enabled = !e.target.checked; });
  });

  function send(msg) {
    if (dc && dc.readyState === "open") { dc.send(JSON.stringify(msg)); return true; }
    return false;
  }

  // -- messages from the server -------------------------------------------------------------
  function onMessage(msg) {
    stats.events.push(msg);
    switch (msg.type) {
      case "ready":
        stats.ready = msg;
        hasVideo = !!msg.video;
        stages = msg.stages || [];
        $("info").textContent = "brain: " + msg.brain + " - face: " + msg.face;
        setupControls(msg.capabilities);
        showFaceState(msg.shown || {}, null);
        if (!hasVideo) setPlaceholder("Audio only: the '" + msg.face + "' face has no video.");
        notice(msg.requested_face && msg.requested_face !== msg.face
          ? "The '" + msg.requested_face + "' face could not start (see the server's log); " +
            "using '" + msg.face + "'. Speak to the avatar."
          : "Connected. Speak to the avatar.");
        break;
      case "agent_state": setAgentState(msg.state); break;
      case "user_state": $("user-state").textContent = "you: " + msg.state; break;
      case "user_transcript": {
        const text = (userFinal + " " + msg.text).trim();
        if (!userLi) userLi = addLine("user", text, "interim");
        setLine(userLi, text, !msg.final);
        if (msg.final) userFinal = text;
        break;
      }
      case "message":
        stats.messages.push({ role: msg.role, text: msg.text });
        if (msg.role === "user") {
          if (userLi) setLine(userLi, msg.text, false); else addLine("user", msg.text);
          userLi = null; userFinal = "";
        } else if (msg.role === "assistant") {
          addLine("assistant", msg.text + (msg.interrupted ? "  [interrupted]" : ""));
        }
        break;
      case "turn": {
        const reply = stats.replies.find((r) => !r.assigned && r.frameAt);
        if (reply) {
          reply.assigned = true;
          msg.page_speech_end_to_first_frame = (reply.frameAt - reply.speechEnd) / 1000;
          send({ type: "page_timing", turn: msg.index,
                 speech_end_to_first_frame: msg.page_speech_end_to_first_frame,
                 speech_end_to_first_audio: (reply.audioAt - reply.speechEnd) / 1000 });
        }
        stats.turns.push(msg);
        renderLatency();
        break;
      }
      case "control":
        stats.controls.push(msg);
        if (!msg.ok) notice("Control refused: " + msg.error);
        break;
      case "face_state":
        stats.faceStates.push(msg);
        showFaceState(msg, msg.by);
        break;
      case "warning": notice("Warning: " + msg.message); break;
      case "error": showError("The session failed: " + msg.message); break;
      case "ended":
        stats.ended = msg;
        notice("Session ended" + (msg.reason ? " (" + msg.reason + ")" : "") + ". Press Start for a new one.");
        break;
    }
  }

  // -- measuring: speech end at the mic -> first avatar frame with the agent's voice ----------
  function rmsOf(analyser, buf) {
    analyser.getFloatTimeDomainData(buf);
    let s = 0;
    for (let i = 0; i < buf.length; i++) s += buf[i] * buf[i];
    return Math.sqrt(s / buf.length);
  }
  function startMeters(micStream, remoteStream) {
    audioCtx = new AudioContext();
    const micA = audioCtx.createAnalyser();
    micA.fftSize = 1024;
    audioCtx.createMediaStreamSource(micStream).connect(micA);
    let remA = null;
    const buf = new Float32Array(1024);
    let loudSince = null, lastLoud = null, speaking = false;
    meterTimer = setInterval(() => {
      const t = performance.now();
      if (!remA && remoteStream.getAudioTracks().length) {
        remA = audioCtx.createAnalyser();
        remA.fftSize = 1024;
        audioCtx.createMediaStreamSource(remoteStream).connect(remA);
      }
      const m = rmsOf(micA, buf);
      stats.micPeak = Math.max(stats.micPeak, m);
      if (m >= LOUD) {
        if (loudSince === null) loudSince = t;
        lastLoud = t;
        if (t - loudSince >= 150) speaking = true;
      } else {
        if (lastLoud === null || t - lastLoud > 100) loudSince = null;
        if (speaking && t - lastLoud >= 400) {
          speaking = false;
          stats.speechEnds.push(lastLoud);
          pending = { speechEnd: lastLoud, audioAt: null, frameAt: null };
        }
      }
      if (remA) {
        const r = rmsOf(remA, buf);
        stats.remotePeak = Math.max(stats.remotePeak, r);
        if (pending && pending.audioAt === null && r >= LOUD) {
          pending.audioAt = t;
          if (!hasVideo) { pending.frameAt = t; stats.replies.push(pending); pending = null; }
        }
      }
    }, 10);
    if (audioCtx.state === "suspended") audioCtx.resume();
  }
  function onFrame(now, meta) {
    stats.frames++;
    stats.lastFrameAt = now;
    if (stats.firstFrameAt === null) { stats.firstFrameAt = now; setPlaceholder(""); }
    stats.frameLog.push([(meta && meta.presentationTime) || now,
                         (meta && meta.presentedFrames) || stats.frames,
                         meta ? meta.rtpTimestamp : undefined, meta ? meta.receiveTime : undefined]);
    if (stats.frameLog.length > stats.frameLogMax) {
      stats.frameLog.splice(0, stats.frameLog.length - stats.frameLogMax);
    }
    if (pending && pending.audioAt !== null && pending.frameAt === null) {
      pending.frameAt = (meta && meta.presentationTime) || now;
      stats.replies.push(pending);
      pending = null;
    }
    frameCb = active ? video.requestVideoFrameCallback(onFrame) : null;
  }

  // -- connect ----------------------------------------------------------------------------
  function waitForIceGathering(conn, ms) {
    if (conn.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms); // send what was gathered so far
      function check() { if (conn.iceGatheringState === "complete") finish(); }
      function finish() {
        clearTimeout(timer);
        conn.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
      conn.addEventListener("icegatheringstatechange", check);
    });
  }

  function preferCodecs(transceiver) {
    // aiortc decodes/encodes VP8 and H264 only: never offer VP9/AV1 first.
    if (!window.RTCRtpReceiver || !RTCRtpReceiver.getCapabilities || !transceiver.setCodecPreferences) return;
    const caps = RTCRtpReceiver.getCapabilities("video");
    if (!caps) return;
    const rank = (c) => {
      const m = c.mimeType.toLowerCase();
      return m === "video/vp8" ? 0 : m === "video/h264" ? 1 : m === "video/rtx" ? 2 : 9;
    };
    const codecs = caps.codecs.filter((c) => rank(c) < 9).sort((a, b) => rank(a) - rank(b));
    if (codecs.length) transceiver.setCodecPreferences(codecs);
  }

  async function start() {
    if (active || !(window.avatarkitReady && window.avatarkitReady.ready)) return;
    clearError();
    notice("");
    $("start").disabled = true;
    if (!window.RTCPeerConnection) {
      showError("This browser has no WebRTC support; use a current Chrome, Edge, Firefox or Safari.");
      return reset();
    }
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError("The microphone only works on a secure page: open the playground at " +
        "http://127.0.0.1:" + (location.port || "80") + "/ on the machine that runs it, or serve it over https.");
      return reset();
    }
    setConn("asking for the microphone...", "warn");
    try {
      mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (err) {
      showError(micMessage(err));
      setConn("no microphone", "bad");
      return reset();
    }
    active = true;
    $("stop").disabled = false;
    setConn("connecting...", "warn");
    setPlaceholder("Connecting...");
    pc = new RTCPeerConnection({ iceServers: [] });
    dc = pc.createDataChannel("avatarkit", { ordered: true });
    dc.onmessage = (ev) => { try { onMessage(JSON.parse(ev.data)); } catch (e) { console.warn(e); } };
    dc.onclose = () => { if (active) teardown("The session ended."); };
    mic.getAudioTracks().forEach((t) => pc.addTrack(t, mic));
    preferCodecs(pc.addTransceiver("video", { direction: "recvonly" }));
    remote = new MediaStream();
    pc.ontrack = (ev) => {
      remote.addTrack(ev.track);
      if (video.srcObject !== remote) video.srcObject = remote;
      video.play().catch(() => notice("Click the video to hear the avatar (autoplay was blocked)."));
    };
    video.onclick = () => video.play();
    pc.onconnectionstatechange = () => {
      const s = pc && pc.connectionState;
      if (!s) return;
      if (s === "connected") {
        clearTimeout(connectTimer);
        stats.connectedAt = performance.now();
        setConn("connected", "ok");
      } else if (s === "failed") {
        showError("The WebRTC connection failed: this browser and the playground could not " +
          "exchange media. On one machine this should not happen; across machines, UDP between " +
          "them must be open (the playground uses no STUN/TURN server).");
        teardown();
      } else if (s === "disconnected") {
        setConn("connection interrupted...", "warn");
      } else if (s === "closed") {
        teardown();
      }
    };
    startMeters(mic, remote);
    if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) frameCb = video.requestVideoFrameCallback(onFrame);
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await waitForIceGathering(pc, 3000);
      let resp;
      try {
        resp = await fetch("offer", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type }),
        });
      } catch (err) {
        throw new Error("Cannot reach the playground server. Is `avatarkit playground` still running?");
      }
      let data = null;
      try { data = await resp.json(); } catch (e) { data = null; }
      if (!resp.ok) {
        throw new Error("The playground refused the session: " +
          ((data && data.error) || "HTTP " + resp.status));
      }
      stats.session = data.session;
      await pc.setRemoteDescription({ sdp: data.sdp, type: data.type });
      connectTimer = setTimeout(() => {
        if (pc && pc.connectionState !== "connected") {
          showError("The WebRTC connection did not come up within " + CONNECT_TIMEOUT_S +
            " s (state: " + pc.connectionState + "). A firewall may block UDP between this " +
            "browser and the playground.");
          teardown();
        }
      }, CONNECT_TIMEOUT_S * 1000);
    } catch (err) {
      showError(err.message || String(err));
      teardown();
    }
  }

  function teardown(message) {
    if (!active) return;
    active = false;
    clearTimeout(connectTimer);
    if (message) notice(message);
    if (meterTimer) clearInterval(meterTimer);
    meterTimer = null;
    if (frameCb !== null) { video.cancelVideoFrameCallback(frameCb); frameCb = null; }
    if (dc && dc.readyState === "open") { try { dc.send(JSON.stringify({ type: "bye" })); } catch (e) { /* closing */ } }
    if (pc) { try { pc.close(); } catch (e) { /* closed */ } }
    if (mic) mic.getTracks().forEach((t) => t.stop());
    if (audioCtx) audioCtx.close().catch(() => {});
    pc = dc = mic = audioCtx = null;
    setConn("not connected", "");
    setAgentState("-");
    setPlaceholder(stats.firstFrameAt === null ? "Press Start and allow the microphone, then speak." : "");
    reset();
  }
  function reset() {
    $("start").disabled = !(window.avatarkitReady && window.avatarkitReady.ready);
    $("stop").disabled = true;
  }
  function stop() { teardown("Stopped."); }

  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", stop);
  window.addEventListener("pagehide", () => {
    if (dc && dc.readyState === "open") dc.send(JSON.stringify({ type: "bye" }));
  });
  // WebRTC's own view of the received video (freezes as Chromium counts them) and audio
  // (NetEQ's buffer; the video waits for it, for lip sync), for benchmarks
  async function inbound(kind) {
    if (!pc) return null;
    const report = await pc.getStats();
    for (const s of report.values()) {
      if (s.type === "inbound-rtp" && s.kind === kind) return s;
    }
    return null;
  }
  function jitterBuffer(s) {  // seconds summed over every frame or sample emitted
    return { jitterBufferDelay: s.jitterBufferDelay,
             jitterBufferTargetDelay: s.jitterBufferTargetDelay,
             jitterBufferEmittedCount: s.jitterBufferEmittedCount };
  }
  async function videoStats() {
    const s = await inbound("video");
    return s && { framesReceived: s.framesReceived, framesDecoded: s.framesDecoded,
                  framesDropped: s.framesDropped, freezeCount: s.freezeCount,
                  totalFreezesDuration: s.totalFreezesDuration, pauseCount: s.pauseCount,
                  totalPausesDuration: s.totalPausesDuration, ...jitterBuffer(s) };
  }
  async function audioStats() {
    const s = await inbound("audio");
    return s && { totalSamplesReceived: s.totalSamplesReceived,
                  concealedSamples: s.concealedSamples, ...jitterBuffer(s) };
  }
  window.avatarkit = { stats, start, stop, send, videoStats, audioStats };
})();
