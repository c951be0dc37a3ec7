/*! Dots loader v1: `Dots.create({token, …})` puts a Dots flow in an iframe from
 * the Dots origin, in a modal or inline in a container. Types: dots.d.ts beside it.
 * Messages are `{v: 1, type, session_id, payload}`, sent to an explicit origin and
 * accepted only from the iframe, with the Dots origin. The host receives opaque
 * ids only. Loading this script twice is harmless. */
(function () {
  "use strict";
  if (window.Dots && window.Dots.version === 1) return;

  var script = document.currentScript;
  var ORIGIN = new URL(script ? script.src : "/", location.href).origin;
  // The loader's own nonce, the default for the style element it adds.
  var NONCE = (script && script.nonce) || null;
  var TOKEN = /^fst_([A-Za-z0-9]+)_[A-Za-z0-9]+$/;
  // Only these host `appearance` keys reach the widget; it checks their values again.
  var APPEARANCE_KEYS = ["theme", "colorPrimary", "colorBackground", "colorText", "fontFamily", "borderRadius"];
  var styleInjected = false;

  function randomId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // The overlay's responsive rules; under a strict host CSP they need `cspNonce`.
  function injectStyle(nonce) {
    if (styleInjected) return;
    styleInjected = true;
    var style = document.createElement("style");
    if (nonce) style.nonce = nonce;
    style.textContent =
      ".dots-overlay{position:fixed;inset:0;z-index:2147483000;display:flex;align-items:center;justify-content:center;" +
      "background:rgba(15,18,30,.55)}" +
      ".dots-overlay[hidden]{display:none}" +
      // The dialog takes its content's height (from the frame's `resize`), within the window.
      ".dots-dialog{width:min(440px,100vw - 24px);height:min(560px,100vh - 24px);max-height:calc(100vh - 24px);" +
      "border-radius:16px;overflow:hidden;box-shadow:0 20px 60px rgba(0,0,0,.35)}" +
      "@media (max-width:480px){.dots-dialog{width:100vw;height:100vh!important;max-height:none;border-radius:0}}" +
      ".dots-frame{display:block;width:100%;height:100%;border:0;color-scheme:normal}";
    document.head.appendChild(style);
  }

  function pick(object, keys) {
    var out = {};
    if (!object || typeof object !== "object") return out;
    keys.forEach(function (k) {
      if (typeof object[k] === "string" || typeof object[k] === "number") out[k] = object[k];
    });
    return out;
  }

  function noop() {}

  function create(options) {
    options = options || {};
    var match = TOKEN.exec(String(options.token || ""));
    if (!match) throw new Error("Dots.create: `token` must be a flow session token (fst_…) from POST /v2/flows");
    var container = options.container;
    if (typeof container === "string") container = document.querySelector(container);
    if (options.container && !(container instanceof HTMLElement)) throw new Error("Dots.create: `container` not found");
    var inline = !!container;
    var on = {
      ready: options.onReady || noop,
      event: options.onEvent || noop,
      success: options.onSuccess || noop,
      exit: options.onExit || noop,
    };
    var sessionId = randomId();
    var state = "loading"; // loading → ready → open ⇄ closed; loading → failed; any → destroyed
    var openQueued = false;
    var frameReady = false;
    var failure = null;
    var returnFocus = null;
    var inerted = [];
    var overflow = null;

    injectStyle(options.cspNonce || NONCE);
    var iframe = document.createElement("iframe");
    iframe.className = "dots-frame";
    iframe.title = "Dots: get paid";
    iframe.allow = "otp-credentials";
    iframe.referrerPolicy = "no-referrer";
    var src = new URL("/flow/flow_" + match[1], ORIGIN);
    src.searchParams.set("origin", location.origin);
    src.searchParams.set("session", sessionId);
    src.searchParams.set("mode", inline ? "inline" : "modal");
    iframe.src = src.href;
    // A page that is not on the app's allowed origins gets a refused frame: it
    // loads (as the browser's error page) but never says hello.
    iframe.addEventListener("load", function () {
      setTimeout(function () {
        if (frameReady || state === "destroyed") return;
        var error = {
          code: "frame_refused",
          message: "Dots refused to load here: add " + location.origin + " to the app's allowed origins.",
        };
        if (window.console) console.error("Dots: " + error.message);
        openQueued = false;
        if (state === "open") hide();
        state = "failed";
        failure = error;
        safely(on.exit, error, { reason: "error" });
      }, 3000);
    });

    var overlay = null;
    if (inline) {
      iframe.style.display = "none";
      iframe.style.width = "100%";
      iframe.style.height = "0px";
      container.appendChild(iframe);
    } else {
      overlay = document.createElement("div");
      overlay.className = "dots-overlay";
      overlay.hidden = true;
      var dialog = document.createElement("div");
      dialog.className = "dots-dialog";
      dialog.setAttribute("role", "dialog");
      dialog.setAttribute("aria-modal", "true");
      dialog.setAttribute("aria-label", "Get paid");
      dialog.appendChild(iframe);
      overlay.appendChild(dialog);
      document.body.appendChild(overlay);
      // A click on the backdrop must not take focus out of the dialog, or Escape and
      // Tab would stop reaching the flow.
      overlay.addEventListener("mousedown", function (event) {
        if (event.target === overlay) {
          event.preventDefault();
          iframe.focus();
        }
      });
    }

    // Escape closes the modal wherever focus is (in the flow, the frame handles it).
    function onKey(event) {
      if (event.key === "Escape" && !inline && state === "open") {
        event.preventDefault();
        hide();
        post("closed");
        safely(on.exit, null, { reason: "user" });
      }
    }
    document.addEventListener("keydown", onKey);

    function post(type, payload) {
      if (iframe.contentWindow) {
        iframe.contentWindow.postMessage({ v: 1, type: type, session_id: sessionId, payload: payload || {} }, ORIGIN);
      }
    }

    function safely(callback, a, b) {
      try {
        callback(a, b);
      } catch (e) {
        setTimeout(function () { throw e; });
      }
    }

    function show() {
      returnFocus = document.activeElement;
      if (inline) {
        iframe.style.display = "block";
      } else {
        overlay.hidden = false;
        // The page behind a modal is inert: no focus, no clicks, not read out.
        inerted = Array.prototype.filter.call(document.body.children, function (el) {
          return el !== overlay && !el.inert;
        });
        inerted.forEach(function (el) { el.inert = true; });
        overflow = document.documentElement.style.overflow;
        document.documentElement.style.overflow = "hidden";
      }
      state = "open";
      iframe.focus();
      post("opened");
    }

    function hide() {
      if (state !== "open") return;
      state = "closed";
      if (inline) {
        iframe.style.display = "none";
      } else {
        overlay.hidden = true;
        inerted.forEach(function (el) { el.inert = false; });
        inerted = [];
        document.documentElement.style.overflow = overflow || "";
      }
      if (returnFocus && typeof returnFocus.focus === "function" && document.contains(returnFocus)) {
        returnFocus.focus();
      }
    }

    function onMessage(event) {
      if (event.origin !== ORIGIN || event.source !== iframe.contentWindow) return;
      var m = event.data;
      if (!m || m.v !== 1 || m.session_id !== sessionId || typeof m.type !== "string") return;
      var p = m.payload || {};
      switch (m.type) {
        case "frame_ready":
          frameReady = true;
          post("init", {
            token: options.token,
            appearance: pick(options.appearance, APPEARANCE_KEYS),
            locale: typeof options.locale === "string" ? options.locale : navigator.language,
          });
          break;
        case "ready":
          if (state === "loading") {
            state = "ready";
            safely(on.ready);
            if (openQueued) show();
          }
          break;
        case "resize":
          if (typeof p.height === "number" && p.height >= 0) {
            var height = Math.min(Math.ceil(p.height), 4000) + "px";
            if (inline) iframe.style.height = height;
            else dialog.style.height = height;
          }
          break;
        case "event":
          safely(on.event, String(p.name || ""), p.metadata || {});
          break;
        case "success":
          safely(on.success, p);
          break;
        case "exit":
          hide();
          safely(on.exit, p.error || null, { reason: p.reason || "user" });
          break;
      }
    }
    window.addEventListener("message", onMessage);

    return {
      /** Shows the flow; before it is ready, it opens as soon as it is. */
      open: function () {
        if (state === "destroyed") throw new Error("Dots: this flow was destroyed");
        if (state === "failed") safely(on.exit, failure, { reason: "error" });
        else if (state === "loading") openQueued = true;
        else if (state !== "open") show();
      },
      /** Closes the flow as if the payee had; `onExit` is called. */
      exit: function () {
        openQueued = false;
        if (state !== "open") return;
        hide();
        post("closed");
        safely(on.exit, null, { reason: "host" });
      },
      /** Removes the iframe and every listener; the object is unusable after it. */
      destroy: function () {
        if (state === "destroyed") return;
        if (state === "open") hide();
        state = "destroyed";
        window.removeEventListener("message", onMessage);
        document.removeEventListener("keydown", onKey);
        if (overlay) overlay.remove();
        else iframe.remove();
      },
    };
  }

  window.Dots = { version: 1, create: create };
})();
