// avatarkit playground: "getting ready". Polls /healthz until the server has loaded every
// model the first turn needs (VAD, whisper, the LLM server, the voice, the face renderer);
// Start stays disabled until then, and the page lists what is loaded and what is loading.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { ready: false, status: null, shownAt: Date.now(), readyAt: null };
  window.avatarkitReady = state;

  function show(st) {
    const box = $("getting-ready");
    const done = (st && st.done) || [];
    const loading = (st && st.loading) || [];
    $("ready-progress").max = done.length + Math.max(loading.length, 1);
    $("ready-progress").value = done.length;
    $("ready-text").textContent = "Getting ready: " +
      (done.length ? done.map((d) => d.what + " (" + d.outcome + ")").join(", ") : "starting") +
      (loading.length ? "; loading " + loading.join(", ") + "..." : "...");
    box.hidden = false;
    $("placeholder").textContent = "The avatar is getting ready...";
  }

  async function poll() {
    let st = null;
    try {
      const r = await fetch("healthz", { cache: "no-store" });
      st = await r.json();
    } catch (e) { st = null; }
    state.status = st;
    if (st && st.ready) {
      state.ready = true;
      state.readyAt = Date.now();
      $("getting-ready").hidden = true;
      $("start").disabled = false;
      if ($("placeholder").textContent === "The avatar is getting ready...") {
        $("placeholder").textContent = "Press Start and allow the microphone, then speak.";
      }
      return;
    }
    if (st && st.error) {
      $("ready-text").textContent = "The avatar could not get ready: " + st.error;
      $("getting-ready").classList.add("error");
      return;
    }
    show(st);
    setTimeout(poll, 300);
  }
  poll();
})();
