// Hospital → department → doctor, and a doctor's sessions with places left, booked from there.

import { html, useState } from "../vendor/htm-preact.js";
import { currentSession, get, post } from "../api.js";
import { chatAvailable } from "../chat.js";
import { SignContract } from "./contracts.js";
import { formatDate, isoDate, t } from "../i18n.js";
import { Heading, Loaded, Problem, Spinner, useLoad } from "../ui.js";

export function Hospitals() {
  const state = useLoad(() => get("/hospitals"), []);
  return html`<section>
    <${Heading}>${t("chooseHospital")}<//>
    <${Loaded} state=${state}>
      ${(hospitals) => html`<ul class="cards">
        ${hospitals.map(
          (hospital) => html`<li class="card">
            <a class="title" href=${`#/hospitals/${hospital.id}`}>${hospital.name}</a>
            <p class="muted">${hospital.address}</p>
          </li>`,
        )}
      </ul>`}
    <//>
  </section>`;
}

export function Departments({ hospitalId }) {
  const state = useLoad(
    () => Promise.all([get("/hospitals"), get(`/hospitals/${hospitalId}/departments`)]),
    [hospitalId],
  );
  return html`<${Loaded} state=${state}>
    ${([hospitals, departments]) => {
      const hospital = hospitals.find((item) => item.id === hospitalId);
      return html`<section>
        <a class="back" href="#/">${t("hospitals")}</a>
        <${Heading}>${hospital ? hospital.name : t("departments")}<//>
        ${hospital ? html`<p class="muted">${hospital.address}</p>` : null}
        <h2>${t("departments")}</h2>
        ${departments.length === 0 ? html`<p>${t("noDepartments")}</p>` : null}
        <ul class="cards">
          ${departments.map(
            (department) => html`<li class="card">
              <a class="title" href=${`#/departments/${department.id}?hospital=${hospitalId}`}>${department.name}</a>
              ${department.description ? html`<p class="muted">${department.description}</p>` : null}
            </li>`,
          )}
        </ul>
      </section>`;
    }}
  <//>`;
}

function Avatar({ doctor }) {
  if (doctor.avatar_url) {
    return html`<img class="avatar" src=${doctor.avatar_url} alt="" width="56" height="56" />`;
  }
  const initial = (doctor.name || "?").trim().charAt(0) || "?";
  return html`<span class="avatar initial" aria-hidden="true">${initial}</span>`;
}

export function Doctors({ departmentId, hospitalId }) {
  const state = useLoad(() => get(`/departments/${departmentId}/doctors`), [departmentId]);
  return html`<${Loaded} state=${state}>
    ${(doctors) => html`<section>
      ${hospitalId ? html`<a class="back" href=${`#/hospitals/${hospitalId}`}>${t("departments")}</a>` : null}
      <${Heading}>${t("doctors")}<//>
      ${doctors.length === 0
          ? html`<p>${t("noDoctors")}</p>`
          : html`<ul class="cards">
              ${doctors.map(
                (doctor) => html`<li class="card doctor">
                  <${Avatar} doctor=${doctor} />
                  <div>
                    <a class="title" href=${`#/doctors/${doctor.id}`}>${doctor.name}</a>
                    <p class="muted">${[doctor.rank && t(`rank_${doctor.rank}`), doctor.specialty].filter(Boolean).join(" · ")}</p>
                  </div>
                </li>`,
              )}
            </ul>`}
    </section>`}
  <//>`;
}

// The booking window: today and the next 14 days (the API leaves out what cannot be booked).
function windowDates() {
  return [isoDate(), isoDate(new Date(), 14)];
}

// A patient opens (or finds) their conversation with the doctor; the API says who may.
function Consult({ doctor }) {
  const [state, setState] = useState({ busy: false, error: null });
  const me = currentSession();
  if (!me || me.role !== "patient" || !chatAvailable()) return null;
  const start = async () => {
    setState({ busy: true, error: null });
    try {
      const conversation = await post("/conversations", { doctor_id: doctor.id });
      window.location.hash = `#/chat/${conversation.id}`;
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return html`<div>
    <button type="button" onClick=${start} disabled=${state.busy}>${t("consult")}</button>
    <${Problem} error=${state.error} />
  </div>`;
}

function SessionRow({ doctor, session, onBooked }) {
  const [state, setState] = useState({ busy: false, error: null });
  const me = currentSession();
  const period = t(session.period);
  const book = async () => {
    setState({ busy: true, error: null });
    try {
      const appointment = await post("/appointments", {
        doctor_id: doctor.id,
        date: session.date,
        period: session.period,
      });
      setState({ busy: false, error: null });
      onBooked(appointment);
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  let action;
  if (session.remaining <= 0) action = html`<span class="badge">${t("full")}</span>`;
  else if (!me || me.role !== "patient") action = html`<a href="#/login">${t("loginToBook")}</a>`;
  else {
    action = html`<button
      type="button"
      class="primary"
      disabled=${state.busy}
      aria-label=${t("bookSession", { period, date: formatDate(session.date) })}
      onClick=${book}
    >${t("book")}</button>`;
  }
  return html`<li class="session" data-date=${session.date} data-period=${session.period}>
    <div>
      <strong>${formatDate(session.date)}</strong> <span>${period}</span>
      <p class="muted">${t("placesLeft", { remaining: session.remaining, quota: session.quota })}</p>
    </div>
    <div class="actions">${action}${state.busy ? html`<${Spinner} />` : null}</div>
    ${state.error ? html`<div class="wide"><${Problem} error=${state.error} /></div>` : null}
  </li>`;
}

export function Doctor({ doctorId }) {
  const [from, to] = windowDates();
  const state = useLoad(
    () => Promise.all([get(`/doctors/${doctorId}`), get(`/doctors/${doctorId}/sessions?from=${from}&to=${to}`)]),
    [doctorId],
  );
  const [booked, setBooked] = useState(null);
  return html`<${Loaded} state=${state}>
    ${([doctor, sessions]) => html`<section>
      <a class="back" href=${`#/departments/${doctor.department_id}?hospital=${doctor.hospital_id}`}>${t("doctors")}</a>
      <div class="doctor-head">
        <${Avatar} doctor=${doctor} />
        <div>
          <${Heading}>${doctor.name}<//>
          <p class="muted">${[doctor.hospital, doctor.department].filter(Boolean).join(" · ")}</p>
          <dl>
            ${doctor.rank ? html`<dt>${t("rank")}</dt><dd>${t(`rank_${doctor.rank}`)}</dd>` : null}
            ${doctor.specialty ? html`<dt>${t("specialty")}</dt><dd>${doctor.specialty}</dd>` : null}
          </dl>
        </div>
      </div>
      <div class="confirm"><${Consult} doctor=${doctor} /><${SignContract} doctor=${doctor} /></div>
      ${booked
        ? html`<div class="notice" role="status">
            <p>${t("booked", {
              number: booked.number,
              period: t(booked.period),
              date: formatDate(booked.date),
              doctor: booked.doctor_name,
            })}</p>
            <a href="#/appointments">${t("seeAppointments")}</a>
          </div>`
        : null}
      <h2>${t("sessions")}</h2>
      ${sessions.length === 0
        ? html`<p>${t("noSessions")}</p>`
        : html`<ul class="sessions">
            ${sessions.map(
              (session) => html`<${SessionRow}
                key=${`${session.date}-${session.period}`}
                doctor=${doctor}
                session=${session}
                onBooked=${(appointment) => {
                  setBooked(appointment);
                  state.reload();
                }}
              />`,
            )}
          </ul>`}
    </section>`}
  <//>`;
}
