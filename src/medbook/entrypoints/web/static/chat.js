// The one connection to the chat server (its address comes in <meta name="medbook-chat">).
//
// It authenticates with the token first; after every reconnect it asks for what it missed
// (`sync` from the highest message id it has seen) and sends again whatever was not acknowledged
// (the same client id: the server stores a message once). It reconnects by itself with a growing
// pause, unless the server said the token is no good (4401) or the role may not chat (4403).

import { currentSession } from "./api.js";

const meta = document.querySelector('meta[name="medbook-chat"]');
const URL_ = meta ? meta.getAttribute("content") : "";

let socket = null;
let wanted = false;
let retry = 0;
let connectedOnce = false;
let lastId = 0;
let status = "offline";
const pending = new Map(); // client_id -> the send frame, until its ack
const listeners = new Set();

export function chatAvailable() {
  return Boolean(URL_);
}

export function chatStatus() {
  return status;
}

export function onChat(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// A message id the page has seen some other way (over HTTP): a later sync starts above it.
export function noteSeen(id) {
  if (id > lastId) lastId = id;
}

function emit(frame) {
  for (const listener of listeners) listener(frame);
}

function setStatus(next) {
  status = next;
  emit({ type: "status", status: next });
}

function raw(frame) {
  if (socket && socket.readyState === WebSocket.OPEN && status === "online") {
    socket.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

function open() {
  const session = currentSession();
  if (!URL_ || !session || !wanted || socket) return;
  setStatus("connecting");
  const ws = new WebSocket(URL_);
  socket = ws;
  ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token: session.token })));
  ws.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame.type === "ready") {
      retry = 0;
      setStatus("online");
      if (connectedOnce) raw({ type: "sync", after: lastId });
      connectedOnce = true;
      for (const send of pending.values()) raw(send);
    }
    if ((frame.type === "message" || frame.type === "ack") && frame.message) noteSeen(frame.message.id);
    if (frame.type === "ack" || refused(frame)) pending.delete(frame.client_id);
    if (frame.type === "synced" && frame.more) raw({ type: "sync", after: frame.last_id });
    emit(frame);
  });
  ws.addEventListener("close", (event) => {
    if (socket === ws) socket = null;
    setStatus("offline");
    if (!wanted || event.code === 4401 || event.code === 4403) return;
    const pause = Math.min(30000, 500 * 2 ** retry);
    retry += 1;
    setTimeout(open, pause);
  });
}

// An error frame that refuses one of our messages for good (not "try again": that one stays
// queued and goes again after the next reconnect).
export function refused(frame) {
  return frame.type === "error" && Boolean(frame.client_id) && !TRANSIENT.has(frame.code);
}

const TRANSIENT = new Set(["try_again", "internal_error"]);

export function startChat() {
  wanted = true;
  open();
}

export function stopChat() {
  wanted = false;
  connectedOnce = false;
  lastId = 0;
  pending.clear();
  if (socket) socket.close(1000);
  socket = null;
}

// Send a message; it is kept and sent again after a reconnect until the server acknowledges it.
export function sendMessage(conversationId, kind, content) {
  const clientId = crypto.randomUUID();
  const frame = { type: "send", conversation_id: conversationId, client_id: clientId, kind, content };
  pending.set(clientId, frame);
  raw(frame);
  return clientId;
}

export function markRead(conversationId, upTo) {
  raw({ type: "read", conversation_id: conversationId, up_to: upTo });
}
