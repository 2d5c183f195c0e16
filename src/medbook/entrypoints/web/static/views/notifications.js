// The caller's notifications, newest first; marking one read.

import { html, useState } from "../vendor/htm-preact.js";
import { get, post } from "../api.js";
import { formatTime, t } from "../i18n.js";
import { Heading, Loaded, Problem, useLoad } from "../ui.js";

function Item({ notification, onRead }) {
  const [state, setState] = useState({ busy: false, error: null });
  const read = async () => {
    setState({ busy: true, error: null });
    try {
      await post(`/notifications/${notification.id}/read`);
      setState({ busy: false, error: null });
      onRead();
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return html`<li class=${`card notification${notification.read ? "" : " unread"}`} data-id=${notification.id}>
    <p class="title">
      ${notification.read ? null : html`<span class="badge">${t("unread")}</span> `}${notification.title}
    </p>
    <p>${notification.body}</p>
    <p class="muted"><time datetime=${notification.created_at}>${formatTime(notification.created_at)}</time></p>
    ${notification.read
      ? null
      : html`<button type="button" disabled=${state.busy} aria-label=${t("markReadOne", { title: notification.title })}
          onClick=${read}>${t("markRead")}</button>`}
    <${Problem} error=${state.error} />
  </li>`;
}

export function Notifications({ onChanged }) {
  const state = useLoad(() => get("/notifications"), []);
  const changed = () => {
    state.reload();
    onChanged();
  };
  return html`<section>
    <${Heading}>${t("notifications")}<//>
    <${Loaded} state=${state}>
      ${(items) =>
        items.length === 0
          ? html`<p>${t("noNotifications")}</p>`
          : html`<ul class="cards">
              ${items.map((n) => html`<${Item} key=${n.id} notification=${n} onRead=${changed} />`)}
            </ul>`}
    <//>
  </section>`;
}
