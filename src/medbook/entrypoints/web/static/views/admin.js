// A hospital admin's desk: approving the hospital's doctors, and its departments.

import { html, useState } from "../vendor/htm-preact.js";
import { get, post } from "../api.js";
import { isoDate, t } from "../i18n.js";
import { OrderCard, ordersOf } from "./orders.js";
import { Field, formValues, Loaded, Problem, Spinner, useLoad } from "../ui.js";

function DoctorRow({ doctor, onChanged }) {
  const [state, setState] = useState({ busy: false, error: null });
  const decide = async (approved) => {
    setState({ busy: true, error: null });
    try {
      await post(`/doctors/${doctor.id}/approval`, { approved });
      setState({ busy: false, error: null });
      onChanged(t(approved ? "approvedNotice" : "withdrawnNotice", { name: doctor.name }));
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  const facts = [
    doctor.department,
    t(`rank_${doctor.rank}`),
    doctor.staff_number ? `${t("staffNumber")} ${doctor.staff_number}` : null,
    doctor.phone,
  ].filter(Boolean);
  return html`<li class="card" data-doctor=${doctor.id}>
    <p class="title">${doctor.name}</p>
    <p class="muted">${facts.join(" · ")}</p>
    ${doctor.specialty ? html`<p>${doctor.specialty}</p>` : null}
    ${doctor.verified
      ? html`<button type="button" disabled=${state.busy} aria-label=${t("withdrawDoctor", { name: doctor.name })}
          onClick=${() => decide(false)}>${t("withdraw")}</button>`
      : html`<button type="button" class="primary" disabled=${state.busy} aria-label=${t("approveDoctor", { name: doctor.name })}
          onClick=${() => decide(true)}>${t("approve")}</button>`}
    ${state.busy ? html`<${Spinner} />` : null}
    <${Problem} error=${state.error} />
  </li>`;
}

function Doctors({ hospitalId }) {
  const state = useLoad(() => get(`/hospitals/${hospitalId}/doctors`), [hospitalId]);
  const [notice, setNotice] = useState(null);
  const changed = (message) => {
    setNotice(message);
    state.reload();
  };
  return html`<${Loaded} state=${state}>
    ${(doctors) => {
      const awaiting = doctors.filter((d) => !d.verified);
      const approved = doctors.filter((d) => d.verified);
      return html`<div>
        ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
        <h2>${t("awaiting")}</h2>
        ${awaiting.length === 0 ? html`<p>${t("noneAwaiting")}</p>` : null}
        <ul class="cards awaiting">
          ${awaiting.map((d) => html`<${DoctorRow} key=${d.id} doctor=${d} onChanged=${changed} />`)}
        </ul>
        <h2>${t("approvedDoctors")}</h2>
        <ul class="cards approved">
          ${approved.map((d) => html`<${DoctorRow} key=${d.id} doctor=${d} onChanged=${changed} />`)}
        </ul>
      </div>`;
    }}
  <//>`;
}

function Departments({ hospitalId }) {
  const state = useLoad(() => get(`/hospitals/${hospitalId}/departments`), [hospitalId]);
  const [adding, setAdding] = useState({ busy: false, error: null, done: null });
  const submit = async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const { name, description } = formValues(event);
    setAdding({ busy: true, error: null, done: null });
    try {
      const added = await post(`/hospitals/${hospitalId}/departments`, {
        name: name.trim(),
        description: description.trim(),
      });
      form.reset();
      setAdding({ busy: false, error: null, done: t("departmentAdded", { name: added.name }) });
      state.reload();
    } catch (error) {
      setAdding({ busy: false, error, done: null });
    }
  };
  return html`<div>
    <h2>${t("departments")}</h2>
    <${Loaded} state=${state}>
      ${(departments) => html`<ul class="plain departments">
        ${departments.map((d) => html`<li>${d.name}</li>`)}
      </ul>`}
    <//>
    <form onSubmit=${submit} novalidate aria-labelledby="add-department-heading">
      <h3 id="add-department-heading">${t("addDepartment")}</h3>
      <${Field} name="name" label=${t("departmentName")} error=${adding.error} form="department" maxlength="100" required />
      <${Field} name="description" label=${t("description")} error=${adding.error} form="department" maxlength="2000" />
      <button type="submit" class="primary" disabled=${adding.busy}>${t("add")}</button>
      ${adding.busy ? html`<${Spinner} />` : null}
      <${Problem} error=${adding.error} />
      ${adding.done ? html`<p class="notice" role="status">${adding.done}</p>` : null}
    </form>
  </div>`;
}

function PublishService({ hospitalId }) {
  const [state, setState] = useState({ busy: false, error: null, done: null });
  const submit = async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const values = formValues(event);
    const [y, m, d] = values.first_date.split("-").map(Number);
    const dates = [];
    for (let i = 0; i < Math.min(60, Math.max(1, Number(values.days) || 1)); i += 1) {
      dates.push(isoDate(new Date(y, m - 1, d), i));
    }
    setState({ busy: true, error: null, done: null });
    try {
      const service = await post(`/hospitals/${hospitalId}/services`, {
        name: values.name.trim(),
        description: values.description.trim(),
        price_cents: Math.round(Number(values.price_yuan) * 100),
        capacity: Number(values.capacity),
        service_radius_km: Number(values.service_radius_km),
        dates,
      });
      form.reset();
      setState({ busy: false, error: null, done: t("published", { name: service.name }) });
    } catch (error) {
      setState({ busy: false, error, done: null });
    }
  };
  return html`<form onSubmit=${submit} novalidate aria-labelledby="publish-heading">
    <h2 id="publish-heading">${t("publishService")}</h2>
    <${Field} name="name" label=${t("serviceName")} error=${adding(state)} form="service" maxlength="100" required />
    <${Field} name="description" label=${t("description")} error=${adding(state)} form="service" maxlength="2000" />
    <${Field} name="price_yuan" label=${t("priceYuan")} error=${adding(state)} form="service" type="number" min="0" step="0.01" inputmode="decimal" required />
    <${Field} name="capacity" label=${t("capacity")} error=${adding(state)} form="service" type="number" min="1" step="1" defaultValue="5" required />
    <${Field} name="service_radius_km" label=${t("radiusKm")} error=${adding(state)} form="service" type="number" min="0.1" step="0.1" defaultValue="10" required />
    <${Field} name="first_date" label=${t("firstDate")} error=${adding(state)} form="service" type="date" defaultValue=${isoDate(new Date(), 1)} required />
    <${Field} name="days" label=${t("days")} error=${adding(state)} form="service" type="number" min="1" max="60" step="1" defaultValue="14" required />
    <button type="submit" class="primary" disabled=${state.busy}>${t("publishService")}</button>
    ${state.busy ? html`<${Spinner} />` : null}
    <${Problem} error=${state.error} />
    ${state.done ? html`<p class="notice" role="status">${state.done}</p>` : null}
  </form>`;
}

// The API names price_cents; the form asks for yuan: an error about the one is shown at the other.
function adding(state) {
  if (!state.error || !state.error.forField) return state.error;
  return { forField: (name) => state.error.forField(name === "price_yuan" ? "price_cents" : name) };
}

function HospitalOrders() {
  const [status, setStatus] = useState("");
  const state = useLoad(() => get(`/orders${status ? `?status=${status}` : ""}`).then(ordersOf), [status]);
  const [failed, setFailed] = useState(null);
  const act = async (order, action) => {
    setFailed(null);
    try {
      await post(`/orders/${order.id}/${action}`);
      state.reload();
    } catch (error) {
      setFailed(error);
    }
  };
  const statuses = ["", "pending_payment", "paid", "completed", "cancelled", "refunded", "expired"];
  return html`<div>
    <h2>${t("hospitalOrders")}</h2>
    <div class="field-row">
      <label for="field-order-status">${t("status")}</label>
      <select id="field-order-status" value=${status} onChange=${(event) => setStatus(event.currentTarget.value)}>
        ${statuses.map((s) => html`<option value=${s}>${s ? t(`status_${s}`) : t("allStatuses")}</option>`)}
      </select>
    </div>
    <${Problem} error=${failed} />
    <${Loaded} state=${state}>
      ${(orders) =>
        orders.length === 0
          ? html`<p>${t("noOrders")}</p>`
          : html`<ul class="cards hospital-orders">
              ${orders.map(
                (order) => html`<${OrderCard} key=${order.id} order=${order} withAddress=${true}>
                  ${order.status === "paid"
                    ? html`<button type="button" class="primary" aria-label=${t("completeOrder", { id: order.id })} onClick=${() => act(order, "complete")}>${t("complete")}</button>
                        <button type="button" aria-label=${t("cancelOrderOf", { id: order.id })} onClick=${() => act(order, "cancel")}>${t("cancelOrder")}</button>`
                    : null}
                <//>`,
              )}
            </ul>`}
    <//>
  </div>`;
}

// Below an admin's account on #/me.
export function AdminDesk({ hospitalId }) {
  return html`<div class="desk">
    <section class="card" aria-label=${t("doctors")}><${Doctors} hospitalId=${hospitalId} /></section>
    <section class="card" aria-label=${t("departments")}><${Departments} hospitalId=${hospitalId} /></section>
    <section class="card"><${PublishService} hospitalId=${hospitalId} /></section>
    <section class="card"><${HospitalOrders} /></section>
  </div>`;
}
