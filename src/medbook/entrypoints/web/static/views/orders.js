// Home-visit services near a place, ordering one, paying in the gateway, and "my orders".

import { html, useState } from "../vendor/htm-preact.js";
import { get, post } from "../api.js";
import { formatDate, money, t } from "../i18n.js";
import { Field, formValues, Heading, Loaded, Problem, Spinner, useLoad } from "../ui.js";

// The orders of a listing, whether it came as an array or paginated ({items}).
export function ordersOf(listing) {
  return Array.isArray(listing) ? listing : listing.items;
}

// One order as a card: number, date, total, place (and address), status; ``children`` are the
// actions the viewer may take on it.
export function OrderCard({ order, withAddress = false, children }) {
  const where = withAddress && order.address ? ` · ${order.address}` : "";
  return html`<li class="card order" data-id=${order.id}>
    <p class="title">${t("orderNumber")} ${order.id} · ${formatDate(order.date)}</p>
    <p>${money(order.total_cents)} · ${t(`place_${order.place}`)}${where}</p>
    <p><span class=${`badge status-${order.status}`}>${t(`status_${order.status}`)}</span></p>
    <div class="confirm">${children}</div>
  </li>`;
}

// Where the gateway takes the payer: the sandbox's own page in demo mode.
function checkoutUrl(payment, order) {
  const query = new URLSearchParams({ amount_cents: String(payment.amount_cents), order: String(order.id) });
  return `/sandbox/pay/${encodeURIComponent(payment.payment_id)}?${query}`;
}

function OrderForm({ service, where, onOrdered }) {
  const open = service.dates.filter((d) => d.remaining > 0);
  const [state, setState] = useState({ busy: false, error: null });
  const submit = async (event) => {
    event.preventDefault();
    const values = formValues(event);
    setState({ busy: true, error: null });
    try {
      // A home visit goes to the address and the place searched from; a visit at the hospital
      // takes neither (the API refuses them there).
      const home = values.place === "home";
      const order = await post("/orders", {
        service_id: service.id,
        date: values.date,
        place: values.place,
        ...(home ? { address: values.address.trim(), lat: where.lat, lng: where.lng } : {}),
      });
      setState({ busy: false, error: null });
      onOrdered(order);
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  const id = (name) => `${name}-${service.id}`;
  return html`<form onSubmit=${submit} novalidate aria-label=${t("orderService", { name: service.name })}>
    <div class="field-row">
      <label for=${id("date")}>${t("date")}</label>
      <select id=${id("date")} name="date">
        ${open.map((d) => html`<option value=${d.date}>${formatDate(d.date)} · ${t("placesOn", d)}</option>`)}
      </select>
    </div>
    <div class="field-row">
      <label for=${id("place")}>${t("place")}</label>
      <select id=${id("place")} name="place">
        <option value="home">${t("place_home")}</option>
        <option value="hospital">${t("place_hospital")}</option>
      </select>
    </div>
    <div class="field-row">
      <label for=${id("address")}>${t("address")}</label>
      <input id=${id("address")} name="address" autocomplete="street-address" maxlength="200" />
    </div>
    <button type="submit" class="primary" disabled=${state.busy || open.length === 0}>${t("order")}</button>
    ${state.busy ? html`<${Spinner} />` : null}
    <${Problem} error=${state.error} />
  </form>`;
}

function Pay({ order }) {
  const [state, setState] = useState({ busy: false, error: null });
  const pay = async () => {
    setState({ busy: true, error: null });
    try {
      const payment = await post(`/orders/${order.id}/payment`);
      window.location.assign(checkoutUrl(payment, order));
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return html`<span>
    <button type="button" class="primary" disabled=${state.busy} onClick=${pay}>${t("pay")} ${money(order.total_cents)}</button>
    ${state.busy ? html`<${Spinner} />` : null}
    <${Problem} error=${state.error} />
  </span>`;
}

export function Services() {
  const [where, setWhere] = useState(null);
  const [locating, setLocating] = useState({ busy: false, error: null });
  const found = useLoad(
    () => (where ? get(`/services?lat=${where.lat}&lng=${where.lng}`) : Promise.resolve(null)),
    [where && where.lat, where && where.lng],
  );
  const [ordered, setOrdered] = useState(null);
  const locate = () => {
    setLocating({ busy: true, error: null });
    navigator.geolocation.getCurrentPosition(
      (position) => {
        setLocating({ busy: false, error: null });
        setWhere({ lat: position.coords.latitude, lng: position.coords.longitude });
      },
      () => setLocating({ busy: false, error: t("locationRefused") }),
      { timeout: 10000 },
    );
  };
  const submit = (event) => {
    event.preventDefault();
    const values = formValues(event);
    setWhere({ lat: Number(values.lat), lng: Number(values.lng) });
  };
  return html`<section>
    <${Heading}>${t("services")}<//>
    <form onSubmit=${submit} novalidate class="card" aria-label=${t("servicesNear")}>
      <p>${"geolocation" in navigator ? html`<button type="button" onClick=${locate}>${t("useLocation")}</button>` : null}</p>
      ${locating.busy ? html`<${Spinner} />` : null}
      ${locating.error ? html`<p class="problem" role="alert">${locating.error}</p>` : null}
      <${Field} name="lat" label=${t("latitude")} type="number" step="any" inputmode="decimal" required />
      <${Field} name="lng" label=${t("longitude")} type="number" step="any" inputmode="decimal" required />
      <button type="submit" class="primary">${t("search")}</button>
    </form>
    ${ordered
      ? html`<div class="notice" role="status">
          <p>${t("ordered", { total: money(ordered.total_cents), fee: money(ordered.platform_fee_cents) })}</p>
          <${Pay} order=${ordered} />
        </div>`
      : null}
    ${where
      ? html`<${Loaded} state=${found}>
          ${(services) =>
            !services || services.length === 0
              ? html`<p>${t("noServices")}</p>`
              : html`<ul class="cards services">
                  ${services.map(
                    (service) => html`<li class="card service" key=${service.id} data-id=${service.id}>
                      <p class="title">${service.name}</p>
                      <p class="muted">${t("distance", { km: service.distance_km.toFixed(1) })} · ${money(service.price_cents)}</p>
                      ${service.description ? html`<p>${service.description}</p>` : null}
                      <${OrderForm} service=${service} where=${where} onOrdered=${setOrdered} />
                    </li>`,
                  )}
                </ul>`}
        <//>`
      : null}
  </section>`;
}

export function Orders() {
  const state = useLoad(() => get("/orders").then(ordersOf), []);
  const [failed, setFailed] = useState(null);
  const cancel = async (order) => {
    try {
      await post(`/orders/${order.id}/cancel`);
      state.reload();
    } catch (error) {
      setFailed(error);
    }
  };
  return html`<section>
    <${Heading}>${t("myOrders")}<//>
    <${Problem} error=${failed} />
    <${Loaded} state=${state}>
      ${(orders) =>
        orders.length === 0
          ? html`<p>${t("noOrders")}</p>`
          : html`<ul class="cards orders">
              ${orders.map(
                (order) => html`<${OrderCard} key=${order.id} order=${order}>
                  ${order.status === "pending_payment" ? html`<${Pay} order=${order} />` : null}
                  ${order.status === "pending_payment" || order.status === "paid"
                    ? html`<button type="button" onClick=${() => cancel(order)}>${t("cancelOrder")}</button>`
                    : null}
                <//>`,
              )}
            </ul>`}
    <//>
  </section>`;
}
