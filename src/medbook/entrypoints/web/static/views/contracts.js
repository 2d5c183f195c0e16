// Family doctors: a patient signs one from the doctor's page and ends it here; a doctor sees the
// patients who signed them, with their vital signs.

import { html, useState } from "../vendor/htm-preact.js";
import { currentSession, get, post } from "../api.js";
import { formatTime, t } from "../i18n.js";
import { Heading, Loaded, Problem, Spinner, useLoad } from "../ui.js";

export function SignContract({ doctor }) {
  const [state, setState] = useState({ busy: false, error: null, done: null });
  const me = currentSession();
  if (!me || me.role !== "patient") return null;
  const sign = async () => {
    setState({ busy: true, error: null, done: null });
    try {
      await post("/contracts", { doctor_id: doctor.id });
      setState({ busy: false, error: null, done: t("signed", { name: doctor.name }) });
    } catch (error) {
      setState({ busy: false, error, done: null });
    }
  };
  return html`<div>
    <button type="button" onClick=${sign} disabled=${state.busy}>${t("signContract")}</button>
    ${state.busy ? html`<${Spinner} />` : null}
    <${Problem} error=${state.error} />
    ${state.done ? html`<p class="notice" role="status">${state.done} <a href="#/contracts">${t("myDoctors")}</a></p>` : null}
  </div>`;
}

function Vitals({ patientId }) {
  const state = useLoad(() => get(`/vitals?patient_id=${patientId}`), [patientId]);
  return html`<${Loaded} state=${state}>
    ${(readings) => html`<ul class="plain vitals">
      ${readings.slice(-10).map(
        (r) => html`<li key=${r.id}>
          <time datetime=${r.measured_at}>${formatTime(r.measured_at)}</time> · ${t(`kind_${r.kind}`)}:
          ${" "}${Object.values(r.values).map((v) => `${v.value} ${v.unit}`).join(" / ")}
        </li>`,
      )}
    </ul>`}
  <//>`;
}

function Contract({ contract, onEnded }) {
  const me = currentSession();
  const [state, setState] = useState({ busy: false, error: null });
  const [showVitals, setShowVitals] = useState(false);
  const other = me.role === "doctor" ? contract.patient_name : contract.doctor_name;
  const end = async () => {
    setState({ busy: true, error: null });
    try {
      await post(`/contracts/${contract.id}/end`);
      onEnded();
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return html`<li class="card contract" data-id=${contract.id}>
    <p class="title">${other}</p>
    ${me.role === "patient" ? html`<p class="muted">${[contract.hospital, contract.department].filter(Boolean).join(" · ")}</p>` : null}
    <p class="muted">${t("signedOn", { time: formatTime(contract.signed_at) })}</p>
    <div class="confirm">
      ${me.role === "doctor"
        ? html`<button type="button" aria-expanded=${showVitals ? "true" : "false"} onClick=${() => setShowVitals(!showVitals)}>
            ${t("vitalsOf", { name: other })}
          </button>`
        : null}
      <button type="button" disabled=${state.busy} aria-label=${t("endContractWith", { name: other })} onClick=${end}>${t("endContract")}</button>
    </div>
    ${showVitals ? html`<${Vitals} patientId=${contract.patient_id} />` : null}
    <${Problem} error=${state.error} />
  </li>`;
}

export function Contracts() {
  const me = currentSession();
  const state = useLoad(() => get("/contracts"), []);
  return html`<section>
    <${Heading}>${me.role === "doctor" ? t("myPatients") : t("myDoctors")}<//>
    <${Loaded} state=${state}>
      ${(contracts) =>
        contracts.length === 0
          ? html`<p>${t("noContracts")}</p>`
          : html`<ul class="cards contracts">
              ${contracts.map((c) => html`<${Contract} key=${c.id} contract=${c} onEnded=${state.reload} />`)}
            </ul>`}
    <//>
  </section>`;
}
