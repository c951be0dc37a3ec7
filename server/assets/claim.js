// The payout-link claim page: a stop-gap that drives the flow API until the Leptos
// widget replaces it. Money and ids come from the server; nothing is decided here.
(function () {
  "use strict";
  const token = decodeURIComponent(location.pathname.split("/").pop());
  const $ = (id) => document.getElementById(id);
  let session = null;
  let methodId = null;
  let state = null;

  function say(text, isError) {
    $("status").textContent = text || "";
    $("status").className = isError ? "error" : "";
  }

  function show(step) {
    for (const el of document.querySelectorAll("main > form, main > section")) el.hidden = el.id !== step;
    const first = $(step).querySelector("input, button, h2");
    if (first) first.focus();
  }

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: Object.assign({ "Content-Type": "application/json" }, session ? { Authorization: "Bearer " + session } : {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error((json.error && json.error.message) || "Something went wrong; try again.");
      err.code = json.error && json.error.code;
      throw err;
    }
    return json;
  }

  function money(amount, currency) {
    const digits = currency === "JPY" ? 0 : 2;
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(amount / Math.pow(10, digits));
  }

  async function refresh() {
    state = await api("GET", "/flow/v1/session");
    const link = state.payout_link;
    $("amount").textContent = money(link.amount, link.currency);
    $("memo").textContent = link.memo || "";
    $("title").textContent = (state.app.name || "Someone") + " sent you money";
  }

  async function start() {
    try {
      const opened = await api("POST", "/flow/v1/sessions", { link_token: token });
      session = opened.token;
      await refresh();
      show("step-phone");
    } catch (e) {
      $("title").textContent = "This link can't be used";
      say(e.message, true);
    }
  }

  function guard(handler) {
    return async (event) => {
      event.preventDefault();
      say("Working…");
      try {
        await handler();
      } catch (e) {
        if (e.code === "session_expired" || e.code === "invalid_session") {
          say("Your session expired. Reload the page to start again.", true);
        } else {
          say(e.message, true);
        }
      }
    };
  }

  $("step-phone").addEventListener("submit", guard(async () => {
    await api("POST", "/flow/v1/verification", { phone_number: $("phone").value });
    say("We sent a code to your phone.");
    show("step-code");
    if ("OTPCredential" in window) {
      navigator.credentials.get({ otp: { transport: ["sms"] } }).then((otp) => { $("code").value = otp.code; }).catch(() => {});
    }
  }));

  $("step-code").addEventListener("submit", guard(async () => {
    await api("POST", "/flow/v1/verification/check", { code: $("code").value.trim() });
    await refresh();
    say("");
    show(state.requirements.tax_id ? "step-compliance" : "step-method");
  }));

  $("step-compliance").addEventListener("submit", guard(async () => {
    await api("PUT", "/flow/v1/compliance", {
      legal_first_name: $("first").value, legal_last_name: $("last").value,
      date_of_birth: $("dob").value, tax_id: $("tax").value,
    });
    say("");
    show("step-method");
  }));

  for (const radio of document.querySelectorAll("input[name=kind]")) {
    radio.addEventListener("change", () => {
      for (const div of document.querySelectorAll("[data-kind]")) div.hidden = div.dataset.kind !== radio.value;
    });
  }

  $("step-method").addEventListener("submit", guard(async () => {
    const kind = document.querySelector("input[name=kind]:checked").value;
    const body = kind === "bank" ? { type: "bank", routing_number: $("routing").value, account_number: $("account").value }
      : kind === "paypal" ? { type: "paypal", email: $("paypal").value }
      : { type: "venmo", phone_number: $("venmo").value };
    const method = await api("POST", "/flow/v1/payout-methods", body);
    methodId = method.id;
    const where = method.bank ? "bank account ending " + method.bank.account_last4
      : method.paypal ? "PayPal " + method.paypal.email : "Venmo " + method.venmo.phone_number;
    $("review").textContent = money(state.payout_link.amount, state.payout_link.currency) + " to your " + where + ".";
    say("");
    show("step-review");
  }));

  $("step-review").addEventListener("submit", guard(async () => {
    const claimed = await api("POST", "/flow/v1/claim", { payout_method_id: methodId });
    $("done").textContent = "Your payout is on its way (" + claimed.payout.status + ").";
    say("Payment claimed.");
    show("step-done");
  }));

  start();
})();
