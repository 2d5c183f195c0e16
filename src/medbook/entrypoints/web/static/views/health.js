// The health file: a patient's records with attachments, sharing them by QR code, who looked;
// vital signs with a chart; diet advice; and a doctor opening what a patient shared.

import { html, useEffect, useState } from "../vendor/htm-preact.js";
import { fileUrl, get, post, remove, upload } from "../api.js";
import { formatDate, formatTime, t } from "../i18n.js";
import { Field, Heading, Loaded, Outcome, Problem, Spinner, formValues, useAction, useLoad } from "../ui.js";

// A private file shown on demand: an image inline, anything else as a link to the blob.
function Attachment({ attachment }) {
  const [url, setUrl] = useState(null);
  const [state, open] = useAction(async () => {
    const blob = await fileUrl(attachment.url);
    setUrl(blob);
    return blob;
  });
  useEffect(() => () => url && URL.revokeObjectURL(url), [url]);
  const name = attachment.filename || attachment.content_type;
  if (url && attachment.content_type.startsWith("image/")) {
    return html`<img class="attachment" src=${url} alt=${name} />`;
  }
  if (url) return html`<a href=${url} download=${attachment.filename || "attachment"}>${name}</a>`;
  return html`<span>
    <button type="button" class="link" onClick=${() => open()}>${t("show", { name })}</button>
    <${Outcome} state=${state} message=${null} />
  </span>`;
}

function Record({ record, onChanged }) {
  const [state, attach] = useAction(async (file) => {
    await upload("POST", `/records/${record.id}/attachments`, file);
    onChanged();
    return true;
  });
  const inputId = `attach-${record.id}`;
  return html`<li class="card record" data-id=${record.id}>
    <p class="title">${record.title}</p>
    <p class="muted">${record.hospital_name} · ${formatDate(record.visit_date)}</p>
    ${record.notes ? html`<p class="notes">${record.notes}</p>` : null}
    ${record.attachments.length
      ? html`<ul class="plain">${record.attachments.map((a) => html`<li key=${a.id}><${Attachment} attachment=${a} /></li>`)}</ul>`
      : null}
    ${onChanged
      ? html`<div class="field-row">
          <label for=${inputId}>${t("attach", { title: record.title })}</label>
          <input id=${inputId} type="file" accept="image/png,image/jpeg,image/gif,image/webp,application/pdf"
            onChange=${(event) => event.currentTarget.files[0] && attach(event.currentTarget.files[0])} />
          <small>${t("attachHint")}</small>
          <${Outcome} state=${state} message=${t("attached")} />
        </div>`
      : null}
  </li>`;
}

function NewRecord({ onAdded }) {
  const [state, add] = useAction(async (values, form) => {
    await post("/records", {
      title: values.title.trim(),
      hospital_name: values.hospital_name.trim(),
      visit_date: values.visit_date,
      notes: values.notes.trim(),
    });
    form.reset();
    onAdded();
    return true;
  });
  const submit = (event) => {
    event.preventDefault();
    add(formValues(event), event.currentTarget);
  };
  return html`<form onSubmit=${submit} novalidate aria-labelledby="new-record-heading">
    <h2 id="new-record-heading">${t("newRecord")}</h2>
    <${Field} name="title" label=${t("title")} error=${state.error} required />
    <${Field} name="hospital_name" label=${t("hospitalName")} error=${state.error} required />
    <${Field} name="visit_date" label=${t("visitDate")} error=${state.error} type="date" required />
    <${Field} name="notes" label=${t("notes")} error=${state.error} />
    <button type="submit" class="primary" disabled=${state.busy}>${t("newRecord")}</button>
    <${Outcome} state=${state} message=${t("recordAdded")} />
  </form>`;
}

function Share() {
  const [share, setShare] = useState(null);
  const [qr, setQr] = useState(null);
  useEffect(() => () => qr && URL.revokeObjectURL(qr), [qr]);
  const [state, create] = useAction(async ({ hours }) => {
    const made = await post("/record-shares", { all: true, expires_in_minutes: Number(hours) * 60 });
    setShare(made);
    setQr(await fileUrl(`/record-shares/${encodeURIComponent(made.code)}/qr.png`));
    return made;
  });
  const [stopping, stop] = useAction(async () => {
    await remove(`/record-shares/${encodeURIComponent(share.code)}`);
    setShare(null);
    setQr(null);
    return true;
  });
  const submit = (event) => {
    event.preventDefault();
    create(formValues(event));
  };
  return html`<div>
    <h2>${t("share")}</h2>
    <p class="muted">${t("shareHint")}</p>
    ${share
      ? html`<div class="share">
          ${qr ? html`<img class="qr" src=${qr} alt=${t("qrAlt")} width="220" height="220" />` : null}
          <p>${t("shareCode")}: <code class="share-code">${share.code}</code></p>
          <p class="muted">${t("shareExpires", { time: formatTime(share.expires_at) })}</p>
          <button type="button" class="danger" disabled=${stopping.busy} onClick=${() => stop()}>${t("revoke")}</button>
          <${Outcome} state=${stopping} message=${null} />
        </div>`
      : html`<form onSubmit=${submit} novalidate>
          <div class="field-row">
            <label for="field-hours">${t("expiresIn")}</label>
            <select id="field-hours" name="hours">
              ${[1, 24, 72].map((h) => html`<option value=${h} selected=${h === 24}>${t("hours", { count: h })}</option>`)}
            </select>
          </div>
          <button type="submit" class="primary" disabled=${state.busy}>${t("shareAll")}</button>
        </form>`}
    <${Outcome} state=${state} message=${stopping.done && !share ? t("revoked") : null} />
  </div>`;
}

function AccessLog() {
  const state = useLoad(() => get("/records/access-log"), []);
  return html`<div>
    <h2>${t("accessLog")}</h2>
    <${Loaded} state=${state}>
      ${(entries) =>
        entries.length === 0
          ? html`<p>${t("noAccess")}</p>`
          : html`<ul class="plain access-log">
              ${entries.map(
                (entry) => html`<li key=${entry.id}>
                  <time datetime=${entry.at}>${formatTime(entry.at)}</time> ·
                  ${" "}${entry.reader_name || `${t(entry.reader_role)} ${entry.reader_id}`} · ${entry.kind}
                </li>`,
              )}
            </ul>`}
    <//>
  </div>`;
}

export function HealthFile() {
  const state = useLoad(() => get("/records"), []);
  return html`<section>
    <${Heading}>${t("healthFile")}<//>
    <p class="links"><a href="#/vitals">${t("vitals")}</a> <a href="#/diet">${t("diet")}</a></p>
    <div class="desk">
      <section class="card" aria-labelledby="records-heading">
        <h2 id="records-heading">${t("records")}</h2>
        <${Loaded} state=${state}>
          ${(records) =>
            records.length === 0
              ? html`<p>${t("noRecords")}</p>`
              : html`<ul class="cards">${records.map((r) => html`<${Record} key=${r.id} record=${r} onChanged=${state.reload} />`)}</ul>`}
        <//>
      </section>
      <section class="card"><${NewRecord} onAdded=${state.reload} /></section>
      <section class="card"><${Share} /></section>
      <section class="card"><${AccessLog} /></section>
    </div>
  </section>`;
}

// --- vital signs ---------------------------------------------------------------------------------

const KINDS = ["blood_pressure", "blood_glucose", "heart_rate", "weight", "temperature"];
const UNITS = { blood_glucose: "mmol/L", heart_rate: "/min", weight: "kg", temperature: "°C" };

// The local time a datetime-local input holds, as ISO 8601 with this browser's offset.
function withOffset(local) {
  const when = new Date(local);
  const minutes = -when.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${local.length === 16 ? `${local}:00` : local}${sign}${pad(minutes / 60)}:${pad(minutes % 60)}`;
}

function nowLocal() {
  const now = new Date();
  now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
  return now.toISOString().slice(0, 16);
}

// A line per measured value over time, drawn as SVG; the same readings as a table for anyone who
// cannot see the chart.
function Chart({ kind, readings }) {
  const ordered = [...readings].sort((a, b) => new Date(a.measured_at) - new Date(b.measured_at));
  const names = Object.keys(ordered[0].values);
  const times = ordered.map((r) => new Date(r.measured_at).getTime());
  const all = ordered.flatMap((r) => names.map((n) => r.values[n].value));
  const [lo, hi] = [Math.min(...all), Math.max(...all)];
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const width = 320;
  const height = 160;
  const x = (time) => (t1 === t0 ? width / 2 : 20 + ((time - t0) / (t1 - t0)) * (width - 40));
  const y = (v) => (hi === lo ? height / 2 : height - 20 - ((v - lo) / (hi - lo)) * (height - 40));
  const label = t("chartOf", {
    kind: t(`kind_${kind}`),
    count: ordered.length,
    first: formatTime(ordered[0].measured_at),
    last: formatTime(ordered[ordered.length - 1].measured_at),
  });
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${label} class="chart-svg">
      <text x="2" y="12" class="axis">${hi}</text>
      <text x="2" y=${height - 4} class="axis">${lo}</text>
      ${names.map(
        (name, i) => html`<g class=${`series series-${i}`}>
          <polyline fill="none" points=${ordered.map((r, j) => `${x(times[j])},${y(r.values[name].value)}`).join(" ")} />
          ${ordered.map((r, j) => html`<circle cx=${x(times[j])} cy=${y(r.values[name].value)} r="3" />`)}
        </g>`,
      )}
    </svg>
    <figcaption>${label}</figcaption>
    <table class="readings">
      <thead><tr><th scope="col">${t("measuredAt")}</th>${names.map((n) => html`<th scope="col">${n === "value" ? t("value") : t(n)}</th>`)}</tr></thead>
      <tbody>
        ${ordered.map(
          (r) => html`<tr key=${r.id}>
            <td><time datetime=${r.measured_at}>${formatTime(r.measured_at)}</time></td>
            ${names.map((n) => html`<td>${r.values[n].value} ${r.values[n].unit}</td>`)}
          </tr>`,
        )}
      </tbody>
    </table>
  </figure>`;
}

export function Vitals() {
  const [kind, setKind] = useState("blood_pressure");
  const state = useLoad(() => get(`/vitals?kind=${kind}`), [kind]);
  const [adding, add] = useAction(async (values) => {
    const numbers =
      kind === "blood_pressure"
        ? { systolic: Number(values.systolic), diastolic: Number(values.diastolic) }
        : { value: Number(values.value) };
    await post("/vitals", { kind, values: numbers, measured_at: withOffset(values.measured_at) });
    state.reload();
    return true;
  });
  const submit = (event) => {
    event.preventDefault();
    add(formValues(event));
  };
  return html`<section>
    <a class="back" href="#/health">${t("healthFile")}</a>
    <${Heading}>${t("vitals")}<//>
    <div class="desk">
      <section class="card">
        <form onSubmit=${submit} novalidate>
          <div class="field-row">
            <label for="field-kind">${t("kind")}</label>
            <select id="field-kind" value=${kind} onChange=${(event) => setKind(event.currentTarget.value)}>
              ${KINDS.map((k) => html`<option value=${k}>${t(`kind_${k}`)}</option>`)}
            </select>
          </div>
          ${kind === "blood_pressure"
            ? html`<${Field} name="systolic" label=${t("systolic")} error=${adding.error} type="number" inputmode="decimal" required />
                <${Field} name="diastolic" label=${t("diastolic")} error=${adding.error} type="number" inputmode="decimal" required />`
            : html`<${Field} name="value" label=${`${t("value")} (${UNITS[kind]})`} error=${adding.error} type="number" step="0.1" inputmode="decimal" required />`}
          <${Field} name="measured_at" label=${t("measuredAt")} error=${adding.error} type="datetime-local" defaultValue=${nowLocal()} required />
          <button type="submit" class="primary" disabled=${adding.busy}>${t("recordVital")}</button>
          <${Outcome} state=${adding} message=${t("vitalAdded")} />
        </form>
      </section>
      <section class="card">
        <${Loaded} state=${state}>
          ${(readings) => (readings.length === 0 ? html`<p>${t("noVitals")}</p>` : html`<${Chart} kind=${kind} readings=${readings} />`)}
        <//>
      </section>
    </div>
  </section>`;
}

export function Diet() {
  const state = useLoad(() => get("/diet-recommendations"), []);
  return html`<section>
    <a class="back" href="#/health">${t("healthFile")}</a>
    <${Heading}>${t("diet")}<//>
    <${Loaded} state=${state}>
      ${(advice) => html`<ul class="cards">
        ${advice.map(
          (item) => html`<li class="card" key=${item.id}>
            <p class="title">${item.title}</p>
            <ul>${item.advice.map((line) => html`<li>${line}</li>`)}</ul>
            ${item.reason ? html`<p class="muted">${t("why", { reason: item.reason })}</p>` : null}
          </li>`,
        )}
      </ul>`}
    <//>
  </section>`;
}

// --- a doctor opening a share --------------------------------------------------------------------

// The code itself, or the last part of a share's URL (what a QR code holds).
function codeOf(text) {
  const trimmed = text.trim();
  return decodeURIComponent(trimmed.split(/[/?#]/).filter(Boolean).pop() || "");
}

export function SharedRecords({ code }) {
  const [opened, setOpened] = useState(null);
  const [state, open] = useAction(async (value) => {
    const found = await get(`/shared-records/${encodeURIComponent(codeOf(value))}`);
    setOpened(found);
    return found;
  });
  useEffect(() => {
    if (code) open(code);
  }, [code]);
  const submit = (event) => {
    event.preventDefault();
    open(formValues(event).code);
  };
  return html`<section>
    <${Heading}>${t("sharedRecords")}<//>
    <form onSubmit=${submit} novalidate class="card narrow">
      <${Field} name="code" label=${t("openShare")} hint=${t("openShareHint")} autocomplete="off" required />
      <button type="submit" class="primary" disabled=${state.busy}>${t("open")}</button>
      ${state.busy ? html`<${Spinner} />` : null}
      <${Problem} error=${state.error} />
    </form>
    ${opened
      ? html`<ul class="cards shared">${opened.records.map((r) => html`<${Record} key=${r.id} record=${r} />`)}</ul>`
      : null}
  </section>`;
}
