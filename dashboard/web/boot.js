// Starts the dashboard: loads its Wasm (served beside this file, versioned) and
// hands it the page. Without JavaScript or Wasm the page says so (see <noscript>).
import init, { start } from "./dots_dashboard.js";

init({ module_or_path: new URL("./dots_dashboard_bg.wasm", import.meta.url) }).then(
  () => start(),
  () => {
    const root = document.getElementById("dots-dashboard");
    if (root) root.textContent = "The dashboard could not start in this browser. Reload the page, or try an up-to-date browser.";
  },
);
