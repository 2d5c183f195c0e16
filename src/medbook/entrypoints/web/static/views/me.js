// The caller's own account, and a patient's identity verification.

import { html, useState } from "../vendor/htm-preact.js";
import { get, post } from "../api.js";
import { t } from "../i18n.js";
import { Field, formValues, Heading, Loaded, Problem, Spinner, useLoad } from "../ui.js";
import { AdminDesk } from "./admin.js";
import { DoctorDesk } from "./doctor.js";

function Identity({ profile, onVerified }) {
  const [state, setState] = useState({ busy: false, error: null });
  if (profile.identity_verified) {
    return html`<p class="notice">${t("verified", { birth_date: profile.birth_date })}</p>`;
  }
  const submit = async (event) => {
    event.preventDefault();
    const { name, id_number } = formValues(event);
    setState({ busy: true, error: null });
    try {
      await post("/patients/me/identity", { name: name.trim(), id_number: id_number.trim() });
      setState({ busy: false, error: null });
      onVerified();
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return html`<form onSubmit=${submit} novalidate>
    <p>${t("notVerified")}</p>
    <${Field} name="name" label=${t("idName")} error=${state.error} autocomplete="name" required />
    <${Field} name="id_number" label=${t("idNumber")} error=${state.error} autocomplete="off" maxlength="18" required />
    <${Problem} error=${state.error} />
    <button type="submit" class="primary" disabled=${state.busy}>${t("verify")}</button>
    ${state.busy ? html`<${Spinner} />` : null}
  </form>`;
}

export function Me() {
  const state = useLoad(() => get("/me"), []);
  const account = html`<section class="card narrow">
    <${Heading}>${t("me")}<//>
    <${Loaded} state=${state}>
      ${(profile) => html`<dl>
          <dt>${t("name")}</dt><dd>${profile.name}</dd>
          <dt>${t("phone")}</dt><dd>${profile.phone}</dd>
          <dt>${t("role")}</dt><dd>${t(profile.role)}</dd>
        </dl>
        ${profile.role === "patient"
          ? html`<h2>${t("identity")}</h2><${Identity} profile=${profile} onVerified=${state.reload} />`
          : null}`}
    <//>
  </section>`;
  if (state.data && state.data.role === "doctor") return html`${account}<${DoctorDesk} />`;
  if (state.data && state.data.role === "admin" && state.data.hospital_id) {
    return html`${account}<h2 class="desk-title">${t("adminDesk")}</h2><${AdminDesk} hospitalId=${state.data.hospital_id} />`;
  }
  return account;
}
