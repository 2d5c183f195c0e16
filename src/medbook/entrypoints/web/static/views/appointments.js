// "My appointments" (a patient's own, or a doctor's), and cancelling one.

import { html, useState } from "../vendor/htm-preact.js";
import { currentSession, get, post } from "../api.js";
import { formatDate, isoDate, t } from "../i18n.js";
import { Heading, Loaded, Problem, Spinner, useLoad } from "../ui.js";

function Cancel({ appointment, onCancelled }) {
  const [state, setState] = useState({ asking: false, busy: false, error: null });
  const cancel = async () => {
    setState({ asking: true, busy: true, error: null });
    try {
      await post(`/appointments/${appointment.id}/cancel`);
      setState({ asking: false, busy: false, error: null });
      onCancelled();
    } catch (error) {
      setState({ asking: true, busy: false, error });
    }
  };
  if (!state.asking) {
    return html`<button type="button" onClick=${() => setState({ asking: true, busy: false, error: null })}>
      ${t("cancel")}
    </button>`;
  }
  return html`<div class="confirm">
    <button type="button" class="danger" disabled=${state.busy} onClick=${cancel}>${t("confirmCancel")}</button>
    <button type="button" disabled=${state.busy} onClick=${() => setState({ asking: false, busy: false, error: null })}>
      ${t("keep")}
    </button>
    ${state.busy ? html`<${Spinner} />` : null}
    <${Problem} error=${state.error} />
  </div>`;
}

const PERIOD_ORDER = { morning: 0, afternoon: 1 };

// A doctor's day comes first: today's and later appointments in the order they come (date,
// session, number), then the earlier ones, newest first.
function forTheDoctor(appointments) {
  const key = (a) => `${a.date}|${PERIOD_ORDER[a.period]}|${String(a.number).padStart(6, "0")}`;
  const sorted = [...appointments].sort((a, b) => (key(a) < key(b) ? -1 : 1));
  const from = isoDate();
  return [sorted.filter((a) => a.date >= from), sorted.filter((a) => a.date < from).reverse()];
}

export function Appointments() {
  const me = currentSession();
  const state = useLoad(
    () => get("/appointments").then((items) => (me && me.role === "doctor" ? forTheDoctor(items) : [items, []])),
    [],
  );
  const [notice, setNotice] = useState(null);
  return html`<section>
    <${Heading}>${t("myAppointments")}<//>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${Loaded} state=${state}>
      ${([upcoming, earlier]) =>
        upcoming.length + earlier.length === 0
          ? html`<p>${t("noAppointments")}</p>`
          : html`${me && me.role === "doctor" ? html`<h2>${t("todayAndLater")}</h2>` : null}
            <${List} appointments=${upcoming} me=${me} onCancelled=${() => {
              setNotice(t("cancelled"));
              state.reload();
            }} />
            ${earlier.length ? html`<h2>${t("earlier")}</h2><${List} appointments=${earlier} me=${me} />` : null}`}
    <//>
  </section>`;
}

function List({ appointments, me, onCancelled }) {
  return html`<ul class="cards">
              ${appointments.map(
                (appointment) => html`<li class="card appointment" data-id=${appointment.id}>
                  <p class="title">
                    ${formatDate(appointment.date)} ${t(appointment.period)} ·
                    ${" "}${t("number", { number: appointment.number })}
                  </p>
                  <p>
                    ${me && me.role === "doctor" ? appointment.patient_name : appointment.doctor_name}
                    ${" · "}${appointment.department}
                  </p>
                  <p class="muted">${appointment.hospital}</p>
                  <p><span class=${`badge status-${appointment.status}`}>${t(`status_${appointment.status}`)}</span></p>
                  ${appointment.status === "booked" && me && me.role === "patient"
                    ? html`<${Cancel} appointment=${appointment} onCancelled=${onCancelled} />`
                    : null}
                </li>`,
              )}
            </ul>`;
}
