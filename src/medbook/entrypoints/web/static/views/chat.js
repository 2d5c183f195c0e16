// Consultation chat: the caller's conversations with unread counts, and one conversation live.

import { html, useEffect, useRef, useState } from "../vendor/htm-preact.js";
import { currentSession, fileUrl, get, upload } from "../api.js";
import { chatAvailable, chatStatus, markRead, noteSeen, onChat, refused, sendMessage } from "../chat.js";
import { formatTime, t } from "../i18n.js";
import { Heading, Loaded, Problem, Spinner, useLoad } from "../ui.js";

function Status() {
  const [status, setStatus] = useState(chatStatus());
  useEffect(() => onChat((frame) => frame.type === "status" && setStatus(frame.status)), []);
  return html`<p class=${`chat-status ${status}`} role="status">${t(status)}</p>`;
}

export function Conversations() {
  const state = useLoad(() => get("/conversations"), []);
  useEffect(() => onChat((frame) => (frame.type === "message" || frame.type === "read") && state.reload()), []);
  const me = currentSession();
  return html`<section>
    <${Heading}>${t("messages")}<//>
    ${chatAvailable() ? html`<${Status} />` : html`<p>${t("noChat")}</p>`}
    <${Loaded} state=${state}>
      ${(conversations) => {
        for (const c of conversations) if (c.last_message) noteSeen(c.last_message.id);
        return conversations.length === 0
          ? html`<p>${t("noConversations")}</p>`
          : html`<ul class="cards conversations">
              ${conversations.map((c) => {
                const other = me && me.role === "doctor" ? c.patient : c.doctor;
                return html`<li class="card conversation" key=${c.id} data-id=${c.id}>
                  <a class="title" href=${`#/chat/${c.id}`}>${other.name}</a>
                  ${c.unread > 0
                    ? html` <span class="badge unread-count" aria-hidden="true">${c.unread}</span><span class="visually-hidden">${t("unreadCount", { count: c.unread })}</span>`
                    : null}
                  ${c.last_message
                    ? html`<p class="muted">${c.last_message.kind === "text" ? c.last_message.content : t("image")}</p>`
                    : null}
                </li>`;
              })}
            </ul>`;
      }}
    <//>
  </section>`;
}

function Picture({ path }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    let made = null;
    fileUrl(path).then((blob) => setUrl((made = blob)), () => setUrl(null));
    return () => made && URL.revokeObjectURL(made);
  }, [path]);
  return url ? html`<img class="chat-image" src=${url} alt=${t("image")} />` : html`<span>${t("image")}</span>`;
}

function Bubble({ message, mine }) {
  return html`<li class=${`bubble ${mine ? "mine" : "theirs"}`} data-id=${message.id || ""}>
    ${message.kind === "image" ? html`<${Picture} path=${message.content} />` : html`<p>${message.content}</p>`}
    <p class="muted small">
      ${message.failed
        ? html`<span class="field-error">${t("notSent", { reason: message.failed })}</span>`
        : message.sent_at
          ? html`<time datetime=${message.sent_at}>${formatTime(message.sent_at)}</time>`
          : t("sending")}
      ${mine && message.read ? html` · <span class="read-mark">${t("readMark")}</span>` : null}
    </p>
  </li>`;
}

export function Conversation({ conversationId }) {
  const me = currentSession();
  const state = useLoad(
    () => Promise.all([get("/conversations"), get(`/conversations/${conversationId}/messages?limit=100`)]),
    [conversationId],
  );
  const [messages, setMessages] = useState([]);
  const [problem, setProblem] = useState(null);
  const list = useRef(null);
  const mine = (m) => m.sender_id === me.id && m.sender_role === me.role;

  useEffect(() => {
    if (state.data) setMessages(state.data[1]);
  }, [state.data]);

  // Frames for this conversation: new messages, acks of ours, read receipts.
  useEffect(
    () =>
      onChat((frame) => {
        if (refused(frame)) {
          // The server refused one of our messages: that bubble says so, and it is not sent again.
          setMessages((old) =>
            old.map((m) => (m.client_id === frame.client_id && !m.id ? { ...m, failed: frame.detail } : m)),
          );
        } else if (frame.type === "error") setProblem({ message: frame.detail, errors: [] });
        const message = frame.message;
        if ((frame.type === "message" || frame.type === "ack") && message && message.conversation_id === conversationId) {
          setMessages((old) => {
            const rest = old.filter(
              (m) => m.id !== message.id && !(frame.client_id && m.client_id === frame.client_id),
            );
            return [...rest, message].sort((a, b) => (a.id || Infinity) - (b.id || Infinity));
          });
        }
        const byMe = frame.reader && frame.reader.id === me.id && frame.reader.role === me.role;
        if (frame.type === "read" && frame.conversation_id === conversationId && !byMe) {
          setMessages((old) => old.map((m) => (m.id && m.id <= frame.up_to && mine(m) ? { ...m, read: true } : m)));
        }
      }),
    [conversationId],
  );

  // What is shown is read: tell the server up to the newest message from the other party.
  useEffect(() => {
    const theirs = messages.filter((m) => m.id && !mine(m));
    if (theirs.length) {
      const newest = Math.max(...theirs.map((m) => m.id));
      noteSeen(newest);
      markRead(conversationId, newest);
    }
    if (list.current) list.current.scrollTop = list.current.scrollHeight;
  }, [messages]);

  const queue = (kind, content) => {
    const clientId = sendMessage(conversationId, kind, content);
    setMessages((old) => [
      ...old,
      { client_id: clientId, kind, content, sender_id: me.id, sender_role: me.role, read: false },
    ]);
  };
  const submit = (event) => {
    event.preventDefault();
    const input = event.currentTarget.elements.namedItem("content");
    const text = input.value.trim();
    if (!text) return;
    queue("text", text);
    input.value = "";
  };
  const [uploading, setUploading] = useState(false);
  const sendImage = async (event) => {
    const file = event.currentTarget.files[0];
    event.currentTarget.value = "";
    if (!file) return;
    setUploading(true);
    setProblem(null);
    try {
      const uploaded = await upload("POST", "/uploads", file);
      queue("image", uploaded.url);
    } catch (error) {
      setProblem(error);
    }
    setUploading(false);
  };

  return html`<${Loaded} state=${state}>
    ${([conversations]) => {
      const conversation = conversations.find((c) => c.id === conversationId);
      if (!conversation) return html`<${Heading}>${t("notFound")}<//>`;
      const other = me.role === "doctor" ? conversation.patient : conversation.doctor;
      return html`<section class="chat">
        <a class="back" href="#/chat">${t("messages")}</a>
        <${Heading}>${t("chatWith", { name: other.name })}<//>
        <${Status} />
        <ol class="messages" ref=${list} aria-live="polite" aria-label=${t("messages")}>
          ${messages.map((m) => html`<${Bubble} key=${m.id || m.client_id} message=${m} mine=${mine(m)} />`)}
        </ol>
        <form class="composer" onSubmit=${submit} novalidate>
          <label for="chat-content" class="visually-hidden">${t("typeMessage")}</label>
          <input id="chat-content" name="content" autocomplete="off" maxlength="2000" placeholder=${t("typeMessage")} />
          <button type="submit" class="primary">${t("send")}</button>
          <label for="chat-image">${t("sendImage")}</label>
          <input id="chat-image" type="file" accept="image/png,image/jpeg,image/gif,image/webp" onChange=${sendImage} />
          ${uploading ? html`<${Spinner} />` : null}
        </form>
        <${Problem} error=${problem} />
      </section>`;
    }}
  <//>`;
}
