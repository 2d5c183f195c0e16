// A doctor's own desk: profile and photo, weekly schedule, taking a session off.

import { html, useState } from "../vendor/htm-preact.js";
import { get, patch, post, put, upload } from "../api.js";
import { formatDate, t } from "../i18n.js";
import { Field, Loaded, Outcome, Problem, Spinner, formValues, useAction, useLoad } from "../ui.js";

export const RANKS = ["resident", "attending", "associate_chief", "chief"];
const DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const PERIODS = ["morning", "afternoon"];

// A labelled choice. With onChange it follows value (the caller keeps the state); without, value
// is only where it starts, and what the person picks stays picked when the form renders again.
function Select({ name, label, value, options, error, onChange }) {
  const id = `field-${name}`;
  const message = error && error.forField ? error.forField(name) : null;
  return html`<div class="field-row">
    <label for=${id}>${label}</label>
    <select id=${id} name=${name} value=${onChange ? value : undefined} onChange=${onChange}
      aria-invalid=${message ? "true" : "false"} aria-describedby=${message ? `${id}-error` : undefined}>
      ${options.map(
        ([key, text]) => html`<option value=${key} selected=${onChange ? undefined : key === (value ?? "")}>${text}</option>`,
      )}
    </select>
    ${message ? html`<small class="field-error" id=${`${id}-error`}>${message}</small>` : null}
  </div>`;
}

function Profile({ doctor, onSaved }) {
  const [hospitalId, setHospitalId] = useState(doctor.hospital_id ? String(doctor.hospital_id) : "");
  const hospitals = useLoad(() => get("/hospitals"), []);
  const departments = useLoad(
    () => (hospitalId ? get(`/hospitals/${hospitalId}/departments`) : Promise.resolve([])),
    [hospitalId],
  );
  const [state, save] = useAction(async (values) => {
    const edit = {};
    for (const key of ["gender", "rank", "specialty", "staff_number", "birth_date"]) {
      if (values[key] !== undefined && values[key] !== "") edit[key] = values[key].trim();
    }
    if (values.hospital_id) edit.hospital_id = Number(values.hospital_id);
    if (values.department_id) edit.department_id = Number(values.department_id);
    await patch("/doctors/me", edit);
    onSaved();
    return t("saved");
  });
  const submit = (event) => {
    event.preventDefault();
    save(formValues(event));
  };
  return html`<form onSubmit=${submit} novalidate aria-labelledby="profile-heading">
    <h2 id="profile-heading">${t("profile")}</h2>
    ${doctor.verified ? null : html`<p class="problem">${t("notApproved")}</p>`}
    <${Select} name="rank" label=${t("rank")} value=${doctor.rank} error=${state.error}
      options=${[["", t("unset")], ...RANKS.map((rank) => [rank, t(`rank_${rank}`)])]} />
    <${Field} name="specialty" label=${t("specialty")} error=${state.error} defaultValue=${doctor.specialty ?? ""} maxlength="200" />
    <${Select} name="gender" label=${t("gender")} value=${doctor.gender} error=${state.error}
      options=${[["", t("unset")], ["female", t("female")], ["male", t("male")]]} />
    <${Field} name="birth_date" label=${t("birthDate")} error=${state.error} type="date" defaultValue=${doctor.birth_date ?? ""} />
    <${Field} name="staff_number" label=${t("staffNumber")} error=${state.error} defaultValue=${doctor.staff_number ?? ""} maxlength="8" />
    <${Select} name="hospital_id" label=${t("hospital")} value=${hospitalId} error=${state.error}
      onChange=${(event) => setHospitalId(event.currentTarget.value)}
      options=${[["", t("unset")], ...(hospitals.data || []).map((h) => [String(h.id), h.name])]} />
    <${Select} name="department_id" label=${t("department")} error=${state.error}
      value=${doctor.department_id && String(doctor.hospital_id) === hospitalId ? String(doctor.department_id) : ""}
      options=${[["", t("unset")], ...(departments.data || []).map((d) => [String(d.id), d.name])]} />
    <button type="submit" class="primary" disabled=${state.busy}>${t("save")}</button>
    <${Outcome} state=${state} />
  </form>`;
}

function Photo({ doctor, onSaved }) {
  const [state, send] = useAction(async (file) => {
    await upload("PUT", "/doctors/me/avatar", file);
    onSaved();
    return t("avatarSaved");
  });
  return html`<div>
    <h2>${t("avatar")}</h2>
    ${doctor.avatar_url ? html`<img class="avatar large" src=${doctor.avatar_url} alt=${t("avatar")} width="96" height="96" />` : null}
    <div class="field-row">
      <label for="field-avatar">${t("avatar")}</label>
      <input id="field-avatar" type="file" accept="image/png,image/jpeg" aria-describedby="field-avatar-hint"
        onChange=${(event) => event.currentTarget.files[0] && send(event.currentTarget.files[0])} />
      <small id="field-avatar-hint">${t("avatarHint")}</small>
    </div>
    <${Outcome} state=${state} />
  </div>`;
}

function WeeklySchedule({ doctor, onSaved }) {
  const [state, save] = useAction(async (values) => {
    const schedule = {};
    for (const day of DAYS) {
      schedule[day] = {};
      for (const period of PERIODS) schedule[day][period] = Number(values[`${day}-${period}`] || 0);
    }
    await put("/doctors/me/schedule", schedule);
    onSaved();
    return t("saved");
  });
  const submit = (event) => {
    event.preventDefault();
    save(formValues(event));
  };
  return html`<form onSubmit=${submit} novalidate aria-labelledby="schedule-heading">
    <h2 id="schedule-heading">${t("schedule")}</h2>
    <p class="muted">${t("scheduleHint")}</p>
    <table class="schedule">
      <thead><tr><th scope="col">${t("date")}</th>${PERIODS.map((p) => html`<th scope="col">${t(p)}</th>`)}</tr></thead>
      <tbody>
        ${DAYS.map(
          (day) => html`<tr>
            <th scope="row">${t(day)}</th>
            ${PERIODS.map(
              (period) => html`<td>
                <input type="number" min="0" max="500" step="1" inputmode="numeric"
                  name=${`${day}-${period}`} id=${`quota-${day}-${period}`}
                  aria-label=${t("quotaLabel", { day: t(day), period: t(period) })}
                  defaultValue=${doctor.schedule ? doctor.schedule[day][period] : 0} />
              </td>`,
            )}
          </tr>`,
        )}
      </tbody>
    </table>
    <button type="submit" class="primary" disabled=${state.busy}>${t("save")}</button>
    <${Outcome} state=${state} />
  </form>`;
}

function Leave() {
  const [state, take] = useAction(async ({ date, period }) => {
    const taken = await post("/doctors/me/leave", { date, period });
    return t("leaveTaken", {
      date: formatDate(taken.date),
      period: t(taken.period),
      count: taken.cancelled_appointments,
    });
  });
  const submit = (event) => {
    event.preventDefault();
    take(formValues(event));
  };
  return html`<form onSubmit=${submit} novalidate aria-labelledby="leave-heading">
    <h2 id="leave-heading">${t("leave")}</h2>
    <p class="muted">${t("leaveHint")}</p>
    <${Field} name="date" label=${t("date")} error=${state.error} type="date" required />
    <${Select} name="period" label=${t("period")} error=${state.error}
      options=${PERIODS.map((p) => [p, t(p)])} />
    <button type="submit" class="danger" disabled=${state.busy}>${t("takeLeave")}</button>
    <${Outcome} state=${state} />
  </form>`;
}

// Everything a doctor keeps up to date, below their account on #/me.
export function DoctorDesk() {
  const state = useLoad(() => get("/me"), []);
  return html`<${Loaded} state=${state}>
    ${(me) => html`<div class="desk">
      <section class="card"><${Profile} doctor=${me.doctor} onSaved=${state.reload} /></section>
      <section class="card"><${Photo} doctor=${me.doctor} onSaved=${state.reload} /></section>
      <section class="card"><${WeeklySchedule} doctor=${me.doctor} onSaved=${state.reload} /></section>
      <section class="card"><${Leave} /></section>
    </div>`}
  <//>`;
}
