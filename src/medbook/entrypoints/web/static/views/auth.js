// Logging in (any role) and registering as a patient.

import { html } from "../vendor/htm-preact.js";
import { post, setSession } from "../api.js";
import { t } from "../i18n.js";
import { Field, formValues, Heading, Problem, Spinner, useAction } from "../ui.js";

// A form whose values go to ``action`` when it is sent.
function useSubmit(action) {
  const [state, run] = useAction(action);
  const submit = (event) => {
    event.preventDefault();
    run(formValues(event));
  };
  return [state, submit];
}

export function Login({ navigate, registered }) {
  const [state, submit] = useSubmit(async ({ phone, password, role }) => {
    const answer = await post("/sessions", { phone: phone.trim(), password, role });
    setSession({ token: answer.token, id: answer.id, name: answer.name, role: answer.role });
    navigate(answer.role === "patient" ? "#/appointments" : "#/me");
    return answer;
  });
  return html`<section class="card narrow">
    <${Heading}>${t("loginTitle")}<//>
    ${registered ? html`<p class="notice" role="status">${t("registered")}</p>` : null}
    <form onSubmit=${submit} novalidate>
      <${Field} name="phone" label=${t("phone")} error=${state.error} type="tel" inputmode="numeric" autocomplete="username" required />
      <${Field} name="password" label=${t("password")} error=${state.error} type="password" autocomplete="current-password" required />
      <div class="field-row">
        <label for="field-role">${t("role")}</label>
        <select id="field-role" name="role">
          <option value="patient">${t("patient")}</option>
          <option value="doctor">${t("doctor")}</option>
          <option value="admin">${t("admin")}</option>
        </select>
      </div>
      <${Problem} error=${state.error} />
      <button type="submit" class="primary" disabled=${state.busy}>${t("login")}</button>
      ${state.busy ? html`<${Spinner} />` : null}
    </form>
    <p>${t("noAccount")} <a href="#/register">${t("register")}</a></p>
  </section>`;
}

export function Register({ navigate }) {
  const [state, submit] = useSubmit(async ({ phone, name, password }) => {
    const answer = await post("/patients", { phone: phone.trim(), name: name.trim(), password });
    navigate("#/login?registered=1");
    return answer;
  });
  return html`<section class="card narrow">
    <${Heading}>${t("registerTitle")}<//>
    <form onSubmit=${submit} novalidate>
      <${Field} name="phone" label=${t("phone")} error=${state.error} type="tel" inputmode="numeric" autocomplete="username" required />
      <${Field} name="name" label=${t("name")} error=${state.error} autocomplete="name" required />
      <${Field} name="password" label=${t("password")} error=${state.error} type="password" autocomplete="new-password" hint=${t("passwordHint")} required />
      <${Problem} error=${state.error} />
      <button type="submit" class="primary" disabled=${state.busy}>${t("register")}</button>
      ${state.busy ? html`<${Spinner} />` : null}
    </form>
    <p>${t("haveAccount")} <a href="#/login">${t("login")}</a></p>
  </section>`;
}
