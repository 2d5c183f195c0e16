// The sandbox gateway's payment page (demo mode only): the payer completes or fails the payment,
// and the server reports it to medbook exactly as the sandbox gateway would, signed.
// /sandbox/pay/{payment_id}?amount_cents=19900&order=3

import { html, render, useState } from "./vendor/htm-preact.js";
import { money, t } from "./i18n.js";
import { Heading, Problem, Spinner } from "./ui.js";
import { ApiError } from "./api.js";

const paymentId = decodeURIComponent(window.location.pathname.split("/").pop() || "");
const query = new URLSearchParams(window.location.search);
const cents = Number(query.get("amount_cents"));
const order = query.get("order") || "";

async function report(status) {
  const response = await fetch(window.location.pathname, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ status, amount_cents: cents }),
    credentials: "omit",
  }).catch(() => {
    throw new ApiError(0, { code: "offline" });
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function Checkout() {
  const [state, setState] = useState({ busy: false, error: null, outcome: null });
  const send = async (status) => {
    setState({ busy: true, error: null, outcome: null });
    try {
      const answer = await report(status);
      setState({ busy: false, error: null, outcome: answer.outcome });
    } catch (error) {
      setState({ busy: false, error, outcome: null });
    }
  };
  return html`<main id="main" tabindex="-1"><section class="card narrow sandbox">
    <${Heading}>${t("sandboxTitle")}<//>
    <p class="muted">${t("sandboxHint")}</p>
    <dl>
      <dt>${t("orderNumber")}</dt><dd>${order}</dd>
      <dt>${t("amount")}</dt><dd class="amount">${Number.isFinite(cents) && cents > 0 ? money(cents) : "—"}</dd>
      <dt>${t("paymentId")}</dt><dd><code>${paymentId}</code></dd>
    </dl>
    ${state.outcome
      ? html`<p class="notice" role="status">${t(`outcome_${state.outcome}`)}</p>
          <a href="/#/orders">${t("backToOrders")}</a>`
      : html`<div class="confirm">
          <button type="button" class="primary" disabled=${state.busy} onClick=${() => send("succeeded")}>${t("payNow")}</button>
          <button type="button" disabled=${state.busy} onClick=${() => send("failed")}>${t("failPayment")}</button>
          ${state.busy ? html`<${Spinner} />` : null}
        </div>`}
    <${Problem} error=${state.error} />
  </section></main>`;
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${Checkout} />`, root);
