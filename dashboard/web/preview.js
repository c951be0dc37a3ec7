// The brand editor's preview (`/dashboard/preview`, framed by the dashboard only):
// the real widget, this server's own bundle, mounted with a made-up payout link
// the page carries, so nothing is asked of the API. The page is loaded again, with
// the brand being edited, at each change.
const html = document.documentElement;
const base = html.dataset.widget;
const root = document.getElementById("dots-root");
const state = document.getElementById("preview-state").textContent;
import(base + "dots_widget.js")
  .then(async ({ default: init, mount }) => {
    await init({ module_or_path: new URL(base + "dots_widget_bg.wasm", location.href) });
    mount(root, JSON.stringify({ session_token: "preview", embedded: false, state: { ok: true, body: state } }), () => {});
    // Nothing in the preview is sent anywhere: its buttons and forms do nothing.
    const still = (event) => {
      if (event.type === "submit" || event.target.closest("button, a")) {
        event.preventDefault();
        event.stopPropagation();
      }
    };
    root.addEventListener("click", still, true);
    root.addEventListener("submit", still, true);
    html.dataset.ready = "true";
  })
  .catch(() => {
    root.textContent = "The preview could not start in this browser.";
  });
