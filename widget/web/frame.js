// Boots the widget on a Dots page: the payout-link page (`/claim/{token}`, full
// page) or a flow's iframe (`/flow/{id}?origin=…&session=…&mode=modal|inline`).
// In the iframe the session token arrives by postMessage from the loader, never
// in a URL; messages are accepted only from the parent window with the origin the
// server checked against the app's allowed origins.
import init, { mount } from "./dots_widget.js";

const root = document.getElementById("dots-root");
const ready = init({ module_or_path: new URL("./dots_widget_bg.wasm", import.meta.url) });

// The payee's language is the host's `locale`, else the browser's. Only English is
// in the Wasm: another language's words are served beside it and fetched while it
// downloads (none served for that language: the widget speaks English).
const words = (locale) => {
  const lang = (locale || navigator.languages[0] || navigator.language || "").split(/[-_]/)[0].toLowerCase();
  if (!/^[a-z]{2,3}$/.test(lang) || lang === "en") return null;
  return fetch(new URL(`./words-${lang}.json`, import.meta.url)).then((r) => (r.ok ? r.json() : null)).catch(() => null);
};

const mode = document.documentElement.dataset.mode;
if (mode === "link") {
  // The link's token is in the path: kept for this tab only (a reload still works)
  // and taken out of the address bar and history, as the flow page does below. The
  // link's id (which opens nothing) stays, so the server brands a reload too.
  const fromPath = location.pathname.startsWith("/claim/") ? decodeURIComponent(location.pathname.slice(7)) : "";
  if (fromPath) {
    sessionStorage.setItem("dots-link", fromPath);
    const query = new URLSearchParams(location.search);
    const link = document.documentElement.dataset.link;
    if (link) query.set("link", link);
    history.replaceState(null, "", "/claim" + (query.size ? "?" + query : ""));
  }
  const token = sessionStorage.getItem("dots-link") || "";
  // The session is opened and read while the Wasm downloads (on a slow phone
  // network that is most of the wait); the widget reads these answers as its own,
  // and asks again itself if either did not arrive.
  const answer = (r) => r.text().then((body) => ({ ok: r.ok, body }));
  const opened = !token
    ? null
    : fetch("/flow/v1/sessions", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": "page-" + Date.now() + "-" + Math.random() },
        body: JSON.stringify({ link_token: token }),
      }).then(answer, () => null);
  const state = Promise.resolve(opened).then((o) =>
    o && o.ok
      ? fetch("/flow/v1/session", { headers: { Authorization: "Bearer " + JSON.parse(o.body).token } }).then(answer)
      : null,
  ).catch(() => null);
  const [o, s, w] = await Promise.all([opened, state, words(""), ready]);
  mount(root, JSON.stringify({ link_token: token, embedded: false, opened: o, state: s, words: w }), () => {});
} else if (mode === "flow-page") {
  // The token comes in the fragment (never sent to a server); it is kept for this
  // tab only, so a reload still works, and taken out of the address bar and history.
  const key = "dots-flow:" + location.pathname;
  if (location.hash.length > 1) {
    sessionStorage.setItem(key, decodeURIComponent(location.hash.slice(1)));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const [w] = await Promise.all([words(""), ready]);
  mount(root, JSON.stringify({ session_token: sessionStorage.getItem(key) || "", embedded: false, words: w }), () => {});
} else {
  const params = new URLSearchParams(location.search);
  const hostOrigin = params.get("origin");
  const sessionId = params.get("session");
  const modal = params.get("mode") !== "inline";
  let started = false;
  const post = (type, payload) =>
    parent.postMessage({ v: 1, type, session_id: sessionId, payload: payload || {} }, hostOrigin);

  const focusables = () =>
    [...root.querySelectorAll("button, input, select, a[href], [tabindex]:not([tabindex='-1'])")].filter(
      (el) => !el.disabled && el.offsetParent !== null,
    );

  addEventListener("message", async (event) => {
    if (event.origin !== hostOrigin || event.source !== parent) return;
    const m = event.data;
    if (!m || m.v !== 1 || m.session_id !== sessionId) return;
    if (m.type === "init" && !started) {
      started = true;
      const p = m.payload || {};
      const [w] = await Promise.all([words(p.locale), ready]);
      const config = { session_token: p.token, appearance: p.appearance || {}, locale: p.locale || "", embedded: true, modal, words: w };
      mount(root, JSON.stringify(config), (type, payload) => post(type, JSON.parse(payload)));
      if (modal) {
        // The dialog sizes to the card (the root fills the frame, so it cannot say).
        const card = root.firstElementChild;
        if (card) new ResizeObserver(() => post("resize", { height: card.getBoundingClientRect().height })).observe(card);
      }
    } else if (m.type === "opened") {
      // The widget moves focus to each step; on opening, to the current one.
      const target = root.querySelector("[data-autofocus]") || focusables()[0];
      if (target) target.focus();
      // `focused`: the step's field the payee can type in now (the bench times this).
      post("event", { name: "OPEN", metadata: { focused: document.activeElement ? document.activeElement.id : "" } });
    }
  });

  if (modal) {
    addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        post("exit", { reason: "user" });
      } else if (event.key === "Tab") {
        // The dialog keeps focus inside itself.
        const all = focusables();
        if (all.length === 0) return;
        const [first, last] = [all[0], all[all.length - 1]];
        if (event.shiftKey && document.activeElement === first) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && document.activeElement === last) {
          event.preventDefault();
          first.focus();
        }
      }
    });
  } else {
    new ResizeObserver(() => post("resize", { height: root.getBoundingClientRect().height })).observe(root);
  }
  post("frame_ready");
}
