// Pieces every view uses: loading with a spinner, the API's errors, labelled form fields.

import { html, useCallback, useEffect, useRef, useState } from "./vendor/htm-preact.js";
import { t } from "./i18n.js";

// The result of load() (a promise-returning function), run again when deps change or on reload().
export function useLoad(load, deps) {
  const [state, setState] = useState({ loading: true, data: null, error: null });
  const run = useRef(0);
  const reload = useCallback(() => {
    const mine = ++run.current;
    setState((old) => ({ ...old, loading: true, error: null }));
    load().then(
      (data) => mine === run.current && setState({ loading: false, data, error: null }),
      (error) => mine === run.current && setState({ loading: false, data: null, error }),
    );
  }, deps);
  useEffect(reload, [reload]);
  return { ...state, reload };
}

// An action someone starts (a form sent, a button pressed): busy while it runs, then its error or
// what it gave. ``run(...args)`` starts it.
export function useAction(action) {
  const [state, setState] = useState({ busy: false, error: null, done: null });
  const run = async (...args) => {
    setState({ busy: true, error: null, done: null });
    try {
      setState({ busy: false, error: null, done: await action(...args) });
    } catch (error) {
      setState({ busy: false, error, done: null });
    }
  };
  return [state, run];
}

// How an action went: the spinner while busy, the API's problem, or ``message`` (by default what
// the action gave) once done.
export function Outcome({ state, message }) {
  const shown = message === undefined ? state.done : state.done && message;
  return html`${state.busy ? html`<${Spinner} />` : null}
    <${Problem} error=${state.error} />
    ${shown ? html`<p class="notice" role="status">${shown}</p>` : null}`;
}

// A spinner that shows only when the wait lasts longer than a moment.
export function Spinner() {
  const [shown, setShown] = useState(false);
  useEffect(() => {
    const timer = setTimeout(() => setShown(true), 250);
    return () => clearTimeout(timer);
  }, []);
  return html`<div class="spinner" role="status" aria-live="polite">
    ${shown ? html`<span class="wheel" aria-hidden="true"></span><span>${t("loading")}</span>` : null}
  </div>`;
}

// What went wrong, in the API's words: the detail, then each field it named.
export function Problem({ error, onRetry }) {
  if (!error) return null;
  const detail = error.status === 0 ? t("offline") : error.message;
  return html`<div class="problem" role="alert">
    <strong>${t("errorTitle")}</strong>
    <p>${detail}</p>
    ${error.errors && error.errors.length
      ? html`<ul>
          ${error.errors.map(
            (item) => html`<li><span class="field">${item.field === "body" ? t("field_body") : item.field}</span>: ${item.message}</li>`,
          )}
        </ul>`
      : null}
    ${onRetry ? html`<button type="button" onClick=${onRetry}>${t("retry")}</button>` : null}
  </div>`;
}

// A result being loaded: the spinner, the error (with a retry), or children(data).
export function Loaded({ state, children }) {
  if (state.error && state.error.status === 404) {
    return html`<div><${Heading}>${t("notFound")}<//><a href="#/">${t("hospitals")}</a></div>`;
  }
  if (state.error) return html`<${Problem} error=${state.error} onRetry=${state.reload} />`;
  if (state.loading && state.data === null) return html`<${Spinner} />`;
  return children(state.data);
}

// A labelled input; the API's message for this field (by name) is shown under it and announced.
// ``form`` makes the id unique when two forms of a page have a field of the same name.
export function Field({ name, label, error, hint, form = "field", ...input }) {
  const id = `${form}-${name}`;
  const message = error && error.forField ? error.forField(name) : null;
  const described = [hint ? `${id}-hint` : null, message ? `${id}-error` : null].filter(Boolean).join(" ");
  return html`<div class="field-row">
    <label for=${id}>${label}</label>
    <input
      id=${id}
      name=${name}
      aria-invalid=${message ? "true" : "false"}
      aria-describedby=${described || undefined}
      ...${input}
    />
    ${hint ? html`<small id=${`${id}-hint`}>${hint}</small>` : null}
    ${message ? html`<small class="field-error" id=${`${id}-error`}>${message}</small>` : null}
  </div>`;
}

// The view's heading, focused when the view opens so screen readers and keyboards start there.
export function Heading({ children }) {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current) ref.current.focus();
  }, []);
  return html`<h1 tabindex="-1" ref=${ref}>${children}</h1>`;
}

// The values of a submitted form, by field name.
export function formValues(event) {
  return Object.fromEntries(new FormData(event.currentTarget).entries());
}
