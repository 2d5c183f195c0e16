// A hospital admin's desk: approving the hospital's doctors, and its departments.

import { html, useState } from "../vendor/htm-preact.js";
import { get, post } from "../api.js";
import { t } from "../i18n.js";
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
      <${Field} name="name" label=${t("departmentName")} error=${adding.error} maxlength="100" required />
      <${Field} name="description" label=${t("description")} error=${adding.error} maxlength="2000" />
      <button type="submit" class="primary" disabled=${adding.busy}>${t("add")}</button>
      ${adding.busy ? html`<${Spinner} />` : null}
      <${Problem} error=${adding.error} />
      ${adding.done ? html`<p class="notice" role="status">${adding.done}</p>` : null}
    </form>
  </div>`;
}

// Below an admin's account on #/me.
export function AdminDesk({ hospitalId }) {
  return html`<div class="desk">
    <section class="card" aria-label=${t("doctors")}><${Doctors} hospitalId=${hospitalId} /></section>
    <section class="card" aria-label=${t("departments")}><${Departments} hospitalId=${hospitalId} /></section>
  </div>`;
}
