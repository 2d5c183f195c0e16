// The medbook web client: one page, its views chosen by the URL's fragment (#/doctors/7).

import { html, render, useEffect, useState } from "./vendor/htm-preact.js";
import { currentSession, get, onSessionChange, setSession } from "./api.js";
import { language, setLanguage, t } from "./i18n.js";
import { Heading } from "./ui.js";
import { Login, Register } from "./views/auth.js";
import { Departments, Doctor, Doctors, Hospitals } from "./views/directory.js";
import { Appointments } from "./views/appointments.js";
import { Me } from "./views/me.js";
import { Notifications } from "./views/notifications.js";
import { Diet, HealthFile, SharedRecords, Vitals } from "./views/health.js";
import { Orders, Services } from "./views/orders.js";
import { Conversation, Conversations } from "./views/chat.js";
import { Contracts } from "./views/contracts.js";
import { chatAvailable, onChat, startChat, stopChat } from "./chat.js";

// The fragment as a path and its query: "#/departments/3?hospital=1".
function location() {
  const fragment = window.location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = fragment.split("?");
  return { path, query: new URLSearchParams(query) };
}

function navigate(to) {
  window.location.hash = to;
}

// The largest id the API takes (MAX_ID): anything above names nothing.
const MAX_ID = 2147483647;

// A positive integer id from a path segment, or null.
function id(text) {
  return /^[1-9][0-9]{0,9}$/.test(text) && Number(text) <= MAX_ID ? Number(text) : null;
}

const NEEDS_LOGIN = new Set([
  "appointments", "me", "notifications", "health", "vitals", "diet", "shared", "orders", "chat",
  "contracts",
]);

function View({ path, query, session, onNotifications }) {
  const parts = path.split("/").filter(Boolean);
  const [first, second] = parts;
  if (NEEDS_LOGIN.has(first) && !session) return html`<${Login} navigate=${navigate} />`;
  if (parts.length === 0) return html`<${Hospitals} />`;
  if (first === "login" && parts.length === 1) return html`<${Login} navigate=${navigate} registered=${query.has("registered")} />`;
  if (first === "register" && parts.length === 1) return html`<${Register} navigate=${navigate} />`;
  if (first === "appointments" && parts.length === 1) return html`<${Appointments} />`;
  if (first === "me" && parts.length === 1) return html`<${Me} />`;
  if (first === "chat" && parts.length === 1) return html`<${Conversations} />`;
  if (first === "contracts" && parts.length === 1) return html`<${Contracts} />`;
  if (first === "chat" && parts.length === 2 && id(second) !== null) {
    return html`<${Conversation} key=${second} conversationId=${id(second)} />`;
  }
  if (first === "services" && parts.length === 1) return html`<${Services} />`;
  if (first === "orders" && parts.length === 1) return html`<${Orders} />`;
  if (first === "health" && parts.length === 1) return html`<${HealthFile} />`;
  if (first === "vitals" && parts.length === 1) return html`<${Vitals} />`;
  if (first === "diet" && parts.length === 1) return html`<${Diet} />`;
  if (first === "shared" && parts.length <= 2) return html`<${SharedRecords} code=${second || ""} />`;
  if (first === "notifications" && parts.length === 1) return html`<${Notifications} onChanged=${onNotifications} />`;
  if (parts.length === 2 && id(second) !== null) {
    if (first === "hospitals") return html`<${Departments} key=${second} hospitalId=${id(second)} />`;
    if (first === "departments") {
      return html`<${Doctors} key=${second} departmentId=${id(second)} hospitalId=${id(query.get("hospital") || "")} />`;
    }
    if (first === "doctors") return html`<${Doctor} key=${second} doctorId=${id(second)} />`;
  }
  return html`<section><${Heading}>${t("notFound")}<//><a href="#/">${t("hospitals")}</a></section>`;
}

function Header({ session, unread, unreadMessages, onLanguage }) {
  const logout = () => {
    setSession(null);
    navigate("#/");
  };
  return html`<header class="top">
    <a class="brand" href="#/">${t("app")}</a>
    <nav aria-label=${t("nav")}>
      <a href="#/">${t("hospitals")}</a>
      ${session
        ? html`${session.role !== "admin" ? html`<a href="#/appointments">${t("myAppointments")}</a>` : null}
            ${session.role === "patient"
              ? html`<a href="#/services">${t("services")}</a><a href="#/orders">${t("myOrders")}</a>
                  <a href="#/health">${t("healthFile")}</a><a href="#/contracts">${t("familyDoctor")}</a>`
              : null}
            ${session.role === "doctor"
              ? html`<a href="#/contracts">${t("myPatients")}</a><a href="#/shared">${t("sharedRecords")}</a>`
              : null}
            ${session.role !== "admin"
              ? html`<a href="#/chat">
                  ${t("messages")}${unreadMessages > 0
                    ? html` <span class="count" aria-hidden="true">${unreadMessages}</span><span class="visually-hidden">${t("unreadCount", { count: unreadMessages })}</span>`
                    : null}
                </a>`
              : null}
            <a href="#/notifications">
              ${t("notifications")}${unread > 0
                ? html` <span class="count" aria-hidden="true">${unread}</span><span class="visually-hidden">${t("unreadCount", { count: unread })}</span>`
                : null}
            </a>
            <a href="#/me">${t("me")}</a>
            <button type="button" class="link" onClick=${logout}>${t("logout")}</button>`
        : html`<a href="#/login">${t("login")}</a><a href="#/register">${t("register")}</a>`}
      <button type="button" class="link" lang=${language() === "zh" ? "en" : "zh-CN"} aria-label=${t("languageLabel")} onClick=${onLanguage}>
        ${t("language")}
      </button>
    </nav>
  </header>`;
}

function App() {
  const [where, setWhere] = useState(location());
  const [session, setCurrent] = useState(currentSession());
  const [, setWords] = useState(language());
  useEffect(() => {
    const moved = () => setWhere(location());
    window.addEventListener("hashchange", moved);
    const unsubscribe = onSessionChange(setCurrent);
    return () => {
      window.removeEventListener("hashchange", moved);
      unsubscribe();
    };
  }, []);
  // The unread badge: counted again when the person logs in, moves to another view, or reads one.
  const [unread, setUnread] = useState(0);
  const countUnread = () => {
    if (!currentSession()) return setUnread(0);
    get("/notifications?unread_only=true").then(
      (items) => setUnread(items.length),
      () => setUnread(0),
    );
  };
  useEffect(countUnread, [session, where.path]);
  // Unread chat messages, over all conversations: again on each view and each chat frame.
  const [unreadMessages, setUnreadMessages] = useState(0);
  const countMessages = () => {
    const who = currentSession();
    if (!who || who.role === "admin") return setUnreadMessages(0);
    get("/conversations").then(
      (items) => setUnreadMessages(items.reduce((sum, c) => sum + c.unread, 0)),
      () => setUnreadMessages(0),
    );
  };
  useEffect(countMessages, [session, where.path]);
  useEffect(
    () => onChat((frame) => (frame.type === "message" || frame.type === "read") && countMessages()),
    [],
  );
  // One chat connection while a patient or a doctor is logged in.
  useEffect(() => {
    if (session && session.role !== "admin" && chatAvailable()) startChat();
    else stopChat();
  }, [session && session.token]);
  const switchLanguage = () => {
    setLanguage(language() === "zh" ? "en" : "zh");
    setWords(language());
  };
  return html`<a class="skip" href="#main" onClick=${(event) => {
      event.preventDefault();
      document.getElementById("main").focus();
    }}>${t("skip")}</a>
    <${Header} session=${session} unread=${unread} unreadMessages=${unreadMessages} onLanguage=${switchLanguage} />
    <main id="main" tabindex="-1">
      <${View} key=${`${where.path}|${language()}|${session ? session.id : ""}`} path=${where.path} query=${where.query} session=${session} onNotifications=${countUnread} />
    </main>`;
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
