// SPDX-License-Identifier: Apache-2.0
//
// The web chat: enrollment from an invite link, the device key (WebCrypto
// Ed25519, not extractable, kept in IndexedDB), the session over the
// gateway's WebSocket (web-chat/README.md) and the chat views. Messages are
// kept in IndexedDB; the broker redelivers from this device's cursor what
// arrived while the page was closed.
import {blake2b} from './blake2b.js';
import * as wire from './wire.js';

const kVersion = 'chatpro-web/1';
const kDb = 'chatpro';
const $ = (id) => document.getElementById(id);
const enc = (s) => new TextEncoder().encode(s);
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

// ------------------------------------------------------------------ storage

let db = null;
function openDb() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(kDb, 1);
    r.onupgradeneeded = () => {
      const d = r.result;
      d.createObjectStore('kv');
      d.createObjectStore('convs', {keyPath: 'id'});
      d.createObjectStore('messages', {keyPath: ['conv', 'seq']});
      d.createObjectStore('outbox', {keyPath: 'clientMsgId'});
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}
function tx(store, mode, fn) {
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    let result;
    const req = fn(t.objectStore(store));
    if (req) req.onsuccess = () => { result = req.result; };
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}
const kvGet = (k) => tx('kv', 'readonly', (s) => s.get(k));
const kvPut = (k, v) => tx('kv', 'readwrite', (s) => s.put(v, k));
const getAll = (store, range) => tx(store, 'readonly', (s) => s.getAll(range));
const put = (store, v) => tx(store, 'readwrite', (s) => s.put(v));
const get = (store, k) => tx(store, 'readonly', (s) => s.get(k));
const del = (store, k) => tx(store, 'readwrite', (s) => s.delete(k));
// Reads and rewrites one record in one transaction, so that a delivery and
// the SendAck of the same message (handled concurrently) both keep what they
// add. `fn(old or undefined)` returns the new record.
function update(store, key, fn) {
  return tx(store, 'readwrite', (s) => {
    const r = s.get(key);
    r.onsuccess = () => s.put(fn(r.result));
  });
}
const convRange = (conv) => IDBKeyRange.bound([conv, 0], [conv, Number.MAX_SAFE_INTEGER]);

// Deletes everything this page stored: messages, chats and the device key.
async function wipeStorage() {
  if (db) { db.close(); db = null; }
  await new Promise((resolve) => {
    const r = indexedDB.deleteDatabase(kDb);
    r.onsuccess = r.onerror = () => resolve();
    setTimeout(resolve, 3000);  // blocked by another tab: it goes once that closes
  });
  try { localStorage.clear(); sessionStorage.clear(); } catch (e) { /* none */ }
}

// ------------------------------------------------------------------ views

function show(view) {
  for (const id of ['view-start', 'view-join', 'view-wiped', 'view-chat']) $(id).hidden = id !== view;
}
function status(text) { $('status').textContent = text; }

function fmtTime(us) {
  return new Date(us / 1000).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
}
// "08:00", or "Mon 08:00" when it is not today.
function fmtUntil(us) {
  const d = new Date(us / 1000);
  const time = d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
  if (d.toDateString() === new Date().toDateString()) return time;
  return d.toLocaleDateString([], {weekday: 'short', day: 'numeric', month: 'short'}) + ' ' + time;
}

// ------------------------------------------------------------------ authentication

const kAuthMagic = enc('CPW1');
const kAuthContext = enc('chatpro web auth v1');

// Opens the WebSocket and answers the challenge with `key` (purpose 1: a
// device, 2: an enrollment). Resolves with the socket once the broker let it
// in; rejects with {code, reason} when it is closed first.
function authenticate(purpose, publicKey, privateKey) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket('wss://' + location.host + '/ws');
    ws.binaryType = 'arraybuffer';
    let stage = 0;
    ws.onmessage = async (ev) => {
      const bytes = new Uint8Array(ev.data);
      if (stage === 0) {
        stage = 1;
        const challenge = bytes.subarray(4, 36);
        const signed = concat(kAuthContext, [purpose], challenge, publicKey);
        const sig = new Uint8Array(await crypto.subtle.sign({name: 'Ed25519'}, privateKey, signed));
        ws.send(concat(kAuthMagic, [purpose, 1], publicKey, sig));
      } else if (stage === 1) {
        stage = 2;
        ws.onmessage = null;
        ws.onclose = null;
        resolve(ws);
      }
    };
    ws.onclose = (ev) => reject({code: ev.code, reason: ev.reason || 'the connection closed'});
  });
}

// ------------------------------------------------------------------ enrollment

const kPkcs8Ed25519 = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

// As broker/base/invite.cc NormalizeCode.
function normalizeCode(code) {
  return code.replace(/[- ]/g, '').toUpperCase().replace(/O/g, '0').replace(/[IL]/g, '1');
}

// The invite code of the page's link: #invite=CODE or #invite=<chatpro:// link>.
function inviteFromHash(hash = location.hash) {
  const m = /^#invite=(.+)$/.exec(hash);
  if (!m) return '';
  const value = decodeURIComponent(m[1]);
  if (value.startsWith('chatpro://')) {
    const c = /[?&]code=([^&]+)/.exec(value);
    return c ? normalizeCode(c[1]) : '';
  }
  if (/^https?:\/\//.test(value)) {  // a web chat link pasted whole
    const i = value.indexOf('#');
    return i < 0 ? '' : inviteFromHash(value.slice(i));
  }
  return normalizeCode(value);
}

function b64urlDecode(s) {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

async function enroll(code, deviceName) {
  // The invite's key: the same seed as the CLI's (broker/crypto/keys.cc), so
  // the code itself never crosses the network.
  const seed = blake2b(concat(enc('chatpro-enrollment-key-v1'), enc(code)), 32);
  const inviteKey = await crypto.subtle.importKey(
      'pkcs8', concat(kPkcs8Ed25519, seed), {name: 'Ed25519'}, true, ['sign']);
  const invitePub = b64urlDecode((await crypto.subtle.exportKey('jwk', inviteKey)).x);
  // The device's own key: the private half can never be read out.
  const device = await crypto.subtle.generateKey({name: 'Ed25519'}, false, ['sign', 'verify']);
  const devicePub = new Uint8Array(await crypto.subtle.exportKey('raw', device.publicKey));
  const ws = await authenticate(2, invitePub, inviteKey);
  const reply = await new Promise((resolve, reject) => {
    ws.onmessage = (ev) => {
      for (const e of wire.decodeFrame(ev.data)) {
        if (e.type === wire.Body.Error) reject(new Error(e.body.str(1)));
        else if (e.rid === 1 && e.type === wire.Body.EnrollReply) resolve(e.body);
      }
    };
    ws.onclose = (ev) => reject(new Error(ev.reason || 'the connection closed'));
    ws.send(wire.frame([{rid: 1, type: wire.Body.Enroll,
      body: wire.req.enroll(devicePub, deviceName, kVersion)}]));
  });
  ws.onclose = null;
  ws.close(1000);
  await kvPut('device', {
    privateKey: device.privateKey, publicKey: devicePub, login: reply.str(1),
    displayName: reply.str(2), deviceId: reply.u64(4), name: deviceName,
  });
}

// ------------------------------------------------------------------ session

const S = {
  device: null,
  ws: null,
  blocked: new Set(),     // logins this user blocked (ListBlocked)
  me: null,               // HelloReply: login, limits, last client message id
  nextRid: 1,
  pending: new Map(),     // rid -> {resolve, reject}
  convs: new Map(),       // id -> conversation (with unread, last)
  open: null,             // the conversation on screen
  presence: new Map(),    // login -> {state, until}
  duty: null,             // own DutyState
  schedule: null,
  lastMsgId: 0,
  toAck: new Map(),       // conv -> seq
  acked: new Map(),
  retryMs: 500,
  wiped: false,
  queue: Promise.resolve(),
};

// Resolved while a session is open (after HelloReply); requests made before
// wait for it, so that what the user does while the page connects is done
// once it is connected.
let sessionOpen = null;
S.ready = new Promise((resolve) => { sessionOpen = resolve; });
function sessionClosed() {
  if (sessionOpen) return;  // not open yet
  S.ready = new Promise((resolve) => { sessionOpen = resolve; });
}

async function request(type, body) {
  if (type !== wire.Body.Hello) await S.ready;
  const rid = S.nextRid++;
  return new Promise((resolve, reject) => {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) return reject(new Error('offline'));
    S.pending.set(rid, {resolve, reject});
    S.ws.send(wire.frame([{rid, type, body}]));
  });
}

async function connect() {
  if (S.wiped) return;
  status('Connecting…');
  let ws;
  try {
    ws = await authenticate(1, S.device.publicKey, S.device.privateKey);
  } catch (e) {
    if (/revoked/.test(e.reason)) return wiped(e.reason);
    status('Offline: ' + e.reason + '. Trying again…');
    setTimeout(connect, S.retryMs);
    S.retryMs = Math.min(S.retryMs * 2, 15000);
    return;
  }
  S.ws = ws;
  ws.onmessage = (ev) => {
    if (S.wiped) return;
    // Replies settle their requests at once; events are handled one after
    // the other (a delivery may wait for a reply, never the other way round).
    const events = [];
    for (const e of wire.decodeFrame(ev.data)) {
      // Revoked goes first, past anything queued: the broker answers nothing
      // else from now on, so a queued delivery waiting for a reply would
      // hold the wipe back.
      if (e.type === wire.Body.Revoked) { wiped(e.body ? e.body.str(0) : ''); return; }
      if (e.rid === 0) { events.push(e); continue; }
      const p = S.pending.get(e.rid);
      if (!p) continue;
      S.pending.delete(e.rid);
      if (e.type === wire.Body.Error) {
        const err = new Error(e.body ? e.body.str(1) : 'error');
        err.code = e.body ? e.body.u16(0) : 0;
        p.reject(err);
      } else {
        p.resolve(e.body);
      }
    }
    if (events.length) S.queue = S.queue.then(() => onEvents(events)).catch((e) => console.error(e));
  };
  ws.onclose = (ev) => {
    S.ws = null;
    sessionClosed();
    for (const p of S.pending.values()) p.reject(new Error('offline'));
    S.pending.clear();
    if (S.wiped) return;
    if (ev.code === 4002 || /revoked/.test(ev.reason)) return wiped(ev.reason);
    status('Offline. Trying again…');
    setTimeout(connect, S.retryMs);
    S.retryMs = Math.min(S.retryMs * 2, 15000);
  };
  try {
    const hello = await request(wire.Body.Hello, wire.req.hello(kVersion));
    S.me = {
      login: hello.str(3), displayName: hello.str(4), deviceId: hello.u64(6),
      maxText: hello.u32(7), maxAttachment: hello.u32(8), maxFrame: hello.u32(9),
    };
    S.lastMsgId = Math.max(S.lastMsgId, hello.u64(10));
    S.retryMs = 500;
    sessionOpen();
    sessionOpen = null;
    status('');
    $('me').textContent = S.me.displayName ? S.me.displayName + ' (' + S.me.login + ')' : S.me.login;
    await refreshConversations();
    await refreshBlocked();
    await refreshSchedule();
    await flushOutbox();
    loadPeople();
  } catch (e) {
    console.error(e);
  }
}

async function onEvents(envelopes) {
  for (const e of envelopes) {
    if (S.wiped) return;
    if (e.type === wire.Body.Delivery) await onDelivery(e.body.bytes(0), true);
    else if (e.type === wire.Body.Presence) onPresence(e.body);
    else if (e.type === wire.Body.Error) status('The broker refused a request: ' + e.body.str(1));
  }
  sendAcks();
}

function sendAcks() {
  if (!S.toAck.size || !S.ws || S.ws.readyState !== WebSocket.OPEN) return;
  const cursors = [...S.toAck.entries()];
  S.toAck.clear();
  S.ws.send(wire.frame([{rid: 0, type: wire.Body.Ack, body: wire.req.ack(cursors)}]));
}

const isChange = (m) => m.kind === 'edit' || m.kind === 'deletion';

// An edit or a deletion (stored, hidden, under its own seq) applied to the
// message it names; the same change twice changes nothing.
async function applyChange(m) {
  await put('messages', Object.assign(m, {hidden: true}));
  const target = await get('messages', [m.conv, m.target]);
  if (!target) return;
  if (m.kind === 'edit') { target.text = m.text; target.edited = true; }
  else { target.deleted = true; target.data = null; target.text = ''; }
  await put('messages', target);
  const conv = S.convs.get(m.conv);
  if (conv && conv.last && conv.last.seq === target.seq) {
    conv.last = summary(target);
    await put('convs', conv);
    renderConversations();
  }
}

// A message for one of our conversations, live, caught up or from History.
async function onDelivery(bytes, live) {
  const m = wire.decodeMessage(bytes);
  if (live) S.toAck.set(m.conv, Math.max(S.toAck.get(m.conv) || 0, m.seq));
  if (isChange(m)) {
    await applyChange(m);
    if (S.open && S.open.id === m.conv) await renderMessages();
    return;
  }
  let had = false;
  await update('messages', [m.conv, m.seq], (old) => {
    had = !!old;
    return Object.assign(m, {offDuty: old ? old.offDuty : undefined, state: 'sent'});
  });
  // Client message ids are per device: only this device's own.
  if (m.senderDevice === S.me.deviceId && m.clientMsgId) await del('outbox', m.clientMsgId);
  let conv = S.convs.get(m.conv);
  if (!conv) {
    await refreshConversations();
    conv = S.convs.get(m.conv);
    if (!conv) return;
  }
  if (!conv.last || m.seq >= conv.last.seq) conv.last = summary(m);
  const visible = S.open && S.open.id === m.conv && !document.hidden;
  if (live && !had && m.sender !== S.me.login && !visible && m.seq > (conv.readUpTo || 0)) {
    conv.unread = (conv.unread || 0) + 1;
    notify(conv, m);
  }
  if (visible) conv.readUpTo = Math.max(conv.readUpTo || 0, m.seq);
  // Screen readers hear new messages once, not the whole list again.
  if (live && !had && m.sender !== S.me.login) {
    $('announce').textContent = 'New message from ' + m.sender + ' in ' + title(conv) + ': ' +
        summary(m).text;
  }
  await put('convs', conv);
  renderConversations();
  if (S.open && S.open.id === m.conv) await renderMessages(true);
}

function summary(m) {
  const text = m.deleted ? 'This message was deleted' : m.kind === 'text' ? m.text :
      m.kind === 'voice' ? 'Voice message' : m.kind === 'picture' ? 'Picture' : '';
  return {seq: m.seq, sender: m.sender, text, at: m.sentAt};
}

async function refreshConversations() {
  const reply = await request(wire.Body.ListConversations, wire.req.empty());
  // The objects in S.convs are updated in place: deliveries handled
  // meanwhile keep their unread counts.
  for (const t of reply.tables(0)) {
    const c = wire.decodeConversation(t);
    let conv = S.convs.get(c.id);
    if (!conv) {
      conv = {unread: 0, readUpTo: 0, last: null};
      S.convs.set(c.id, conv);
    }
    Object.assign(conv, c);
    await put('convs', conv);
  }
  renderConversations();
}

function title(conv) {
  if (conv.kind === 'group') return conv.name;
  const other = conv.members.find((m) => m.login !== (S.me && S.me.login));
  if (other) return other.name ? other.name + ' (' + other.login + ')' : other.login;
  return conv.name;
}

function renderConversations() {
  const list = $('conversations');
  const convs = [...S.convs.values()].sort((a, b) =>
    ((b.last && b.last.at) || 0) - ((a.last && a.last.at) || 0) || b.id - a.id);
  $('no-chats').hidden = convs.length > 0;
  list.replaceChildren(...convs.map((conv) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'conv' + (S.open && S.open.id === conv.id ? ' current' : '');
    b.dataset.conv = conv.id;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = title(conv) + (conv.kind === 'group' ? ' (group)' : '');
    const last = document.createElement('span');
    last.className = 'last';
    last.textContent = conv.last ? (conv.last.sender === S.me.login ? 'You: ' : conv.last.sender + ': ') + conv.last.text : '';
    b.append(name, last);
    if (conv.unread) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = String(conv.unread);
      badge.setAttribute('aria-label', conv.unread + ' unread');
      b.append(badge);
    }
    b.addEventListener('click', () => openConversation(conv.id));
    li.append(b);
    return li;
  }));
  const unread = convs.reduce((n, c) => n + (c.unread || 0), 0);
  document.title = (unread ? '(' + unread + ') ' : '') + 'ChatPro';
}

async function openConversation(id) {
  const conv = S.convs.get(id);
  if (!conv) return;
  S.open = conv;
  conv.unread = 0;
  conv.readUpTo = Math.max(conv.readUpTo || 0, conv.headSeq || 0, (conv.last && conv.last.seq) || 0);
  await put('convs', conv);
  document.body.classList.add('in-conversation');
  $('conversation').hidden = false;
  $('conv-title').textContent = title(conv);
  renderBlock();
  renderConversations();
  await renderMessages(true);
  $('text').focus();
  // Fill the screen from the history if this device has little of it.
  const local = await getAll('messages', convRange(id));
  if (local.length < 20) await loadOlder();
  refreshPresence();
}

let loadingOlder = false;
async function loadOlder() {
  if (loadingOlder) return;
  loadingOlder = true;
  try {
    await loadOlderPage();
  } finally {
    loadingOlder = false;
  }
}

async function loadOlderPage() {
  const conv = S.open;
  if (!conv || !S.ws) return;
  const local = await getAll('messages', convRange(conv.id));
  const oldest = local.length ? local[0].seq : 0;
  if (local.length && oldest <= Math.max(conv.firstSeq, 1)) { $('older').hidden = true; return; }
  if (!local.length && !conv.headSeq) { $('older').hidden = true; return; }
  try {
    const reply = await request(wire.Body.History, wire.req.history(conv.id, oldest, 30));
    for (const d of reply.tables(1)) await onDelivery(d.bytes(0), false);
    $('older').hidden = !reply.bool(2);
    const scroller = $('scroller');
    const before = scroller.scrollHeight;
    await renderMessages(false);
    scroller.scrollTop += scroller.scrollHeight - before;
  } catch (e) {
    status('Could not load earlier messages: ' + e.message);
  }
}

// The audio type of a voice message's codec name (the CLI's names: "opus" is
// Ogg Opus, "aac" an MP4 (M4A) file or raw ADTS).
function mimeOfCodec(codec, data) {
  if (codec.includes('/')) return codec;
  if (codec === 'aac') {
    const mp4 = data && data.length >= 8 && String.fromCharCode(...data.subarray(4, 8)) === 'ftyp';
    return mp4 ? 'audio/mp4' : 'audio/aac';
  }
  return {opus: 'audio/ogg', ogg: 'audio/ogg', webm: 'audio/webm', wav: 'audio/wav',
    mp3: 'audio/mpeg', flac: 'audio/flac'}[codec] || 'audio/webm';
}

// What this browser records voice as, and the codec name other clients know
// it by: Ogg Opus where MediaRecorder makes it, else Opus in WebM
// (Chromium), else MP4 AAC (Safari).
function recordingFormat() {
  for (const [type, codec] of [['audio/ogg;codecs=opus', 'opus'], ['audio/webm;codecs=opus', 'webm'],
    ['audio/mp4', 'aac']]) {
    if (MediaRecorder.isTypeSupported(type)) return {type, codec};
  }
  return {type: '', codec: ''};
}

function blobUrl(data, type, urls) {
  const url = URL.createObjectURL(new Blob([data], {type}));
  urls.push(url);
  return url;
}

// The messages on screen, by key (seq, or client message id while in the
// outbox): a message is rebuilt only when it changed, and nodes already in
// place are not moved, so that a voice message being played goes on
// playing while others arrive.
const shown = {conv: null, nodes: new Map()};

function forgetShown() {
  for (const n of shown.nodes.values()) n.urls.forEach((u) => URL.revokeObjectURL(u));
  shown.nodes.clear();
  shown.conv = null;
  $('messages').replaceChildren();
}

function buildMessage(m, urls) {
  const li = document.createElement('li');
  const mine = m.sender === S.me.login;
  li.className = 'msg ' + (mine ? 'mine' : 'theirs');
  if (m.seq) li.dataset.seq = m.seq;
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = mine ? 'You' : m.sender;
  li.append(who);
  if (m.deleted) {
    const p = document.createElement('p');
    p.className = 'deleted';
    p.textContent = 'This message was deleted';
    li.append(p);
  } else if (m.kind === 'text') {
    const p = document.createElement('p');
    p.className = 'text';
    p.textContent = m.text + (m.edited ? ' (edited)' : '');
    li.append(p);
  } else if (m.kind === 'voice') {
    if (m.attachmentsRemoved || !m.data || !m.data.length) {
      li.append(note('Voice message (removed by the retention policy)'));
    } else {
      const a = document.createElement('audio');
      a.controls = true;
      a.preload = 'metadata';
      a.src = blobUrl(m.data, mimeOfCodec(m.codec, m.data), urls);
      a.setAttribute('aria-label', 'Voice message from ' + (mine ? 'you' : m.sender) +
          ', ' + Math.round((m.durationMs || 0) / 1000) + ' seconds');
      li.append(a);
    }
  } else if (m.kind === 'picture') {
    if (m.attachmentsRemoved || !m.data || !m.data.length) {
      li.append(note('Picture (removed by the retention policy)'));
    } else {
      const img = document.createElement('img');
      img.src = blobUrl(m.data, m.mime || 'image/jpeg', urls);
      img.alt = 'Picture from ' + (mine ? 'you' : m.sender);
      if (m.width && m.height) { img.width = m.width; img.height = m.height; }
      li.append(img);
    }
  } else {
    li.append(note('A message this page cannot show'));
  }
  const meta = document.createElement('span');
  meta.className = 'meta';
  let state = m.sentAt ? fmtTime(m.sentAt) : '';
  if (mine) {
    state += m.state === 'sending' ? ' · Sending…' : m.state === 'failed' ? ' · Not sent: ' + m.error : ' · Sent';
  }
  meta.textContent = state;
  li.append(meta);
  // Others' messages can be reported to the organisation.
  if (!mine && m.seq && !m.deleted && ['text', 'voice', 'picture'].includes(m.kind)) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'change';
    b.textContent = 'Report';
    b.setAttribute('aria-label', 'Report the message from ' + m.sender + ': ' + summary(m).text.slice(0, 60));
    b.addEventListener('click', () => openReport(m));
    li.append(b);
  }
  // One's own sent messages can be deleted, text ones also edited.
  if (mine && m.seq && m.state === 'sent' && !m.deleted && ['text', 'voice', 'picture'].includes(m.kind)) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'change';
    b.textContent = m.kind === 'text' ? 'Edit or delete' : 'Delete';
    b.setAttribute('aria-label', (m.kind === 'text' ? 'Edit or delete your message ' : 'Delete your ') +
        summary(m).text.slice(0, 60));
    b.addEventListener('click', () => openChange(m));
    li.append(b);
  }
  if (mine && m.offDuty && m.offDuty.length) {
    li.append(note(m.offDuty.map((d) => d.login + ' is off duty until ' + fmtUntil(d.until)).join('; ') +
        '. It waits for them until then.', 'offduty'));
  }
  return li;
}

async function renderMessages(toBottom) {
  const conv = S.open;
  if (!conv) return;
  if (shown.conv !== conv.id) {
    forgetShown();
    shown.conv = conv.id;
  }
  const scroller = $('scroller');
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const stored = (await getAll('messages', convRange(conv.id))).filter((m) => !m.hidden);
  const outbox = (await getAll('outbox')).filter((m) => m.conv === conv.id && !isChange(m));
  if (S.open !== conv || shown.conv !== conv.id) return;  // another chat was opened meanwhile
  const items = stored.concat(outbox.map((m) =>
    Object.assign({}, m, {state: m.failed ? 'failed' : 'sending'})));
  const list = $('messages');
  const keep = new Set();
  items.forEach((m, i) => {
    const key = m.state === 'sending' || m.state === 'failed' ? 'o' + m.clientMsgId : 's' + m.seq;
    const version = JSON.stringify([m.state, m.error, m.text, m.edited, m.deleted,
      (m.offDuty || []).length, m.sentAt, m.attachmentsRemoved]);
    let n = shown.nodes.get(key);
    if (!n || n.version !== version) {
      const urls = [];
      const li = buildMessage(m, urls);
      if (n) {
        n.li.replaceWith(li);
        n.urls.forEach((u) => URL.revokeObjectURL(u));
      }
      n = {li, version, urls};
      shown.nodes.set(key, n);
    }
    keep.add(key);
    if (list.children[i] !== n.li) list.insertBefore(n.li, list.children[i] || null);
  });
  for (const [key, n] of shown.nodes) {
    if (keep.has(key)) continue;
    n.li.remove();
    n.urls.forEach((u) => URL.revokeObjectURL(u));
    shown.nodes.delete(key);
  }
  if (toBottom || atBottom) scroller.scrollTop = scroller.scrollHeight;
}

function note(text, cls = 'note') {
  const p = document.createElement('p');
  p.className = cls;
  p.textContent = text;
  return p;
}

// ------------------------------------------------------------------ sending

function nextMsgId() {
  S.lastMsgId = Math.max(S.lastMsgId + 1, Date.now() * 1000);
  return S.lastMsgId;
}

async function send(m) {
  m.clientMsgId = nextMsgId();
  m.sender = S.me.login;
  await put('outbox', m);
  await renderMessages(true);
  await sendFromOutbox(m);
}

function contentOf(m) {
  if (m.kind === 'text') return [wire.Content.Text, wire.req.text(m.text)];
  if (m.kind === 'voice') return [wire.Content.Voice, wire.req.voice(m.codec, m.durationMs, m.data)];
  if (m.kind === 'edit') return [wire.Content.Edit, wire.req.edit(m.target, m.text)];
  if (m.kind === 'deletion') return [wire.Content.Deletion, wire.req.deletion(m.target)];
  return [wire.Content.Picture, wire.req.picture(m.mime, m.width, m.height, m.data)];
}

async function sendFromOutbox(m) {
  const [type, content] = contentOf(m);
  let ack;
  try {
    ack = await request(wire.Body.Send, wire.req.send(m.conv, null, m.clientMsgId, type, content));
  } catch (e) {
    if (e.message === 'offline') return;  // sent again once connected
    if (isChange(m)) {
      // A refused change is dropped: the message stays as it was.
      await del('outbox', m.clientMsgId);
      status('Not changed: ' + e.message);
      return;
    }
    // Refused (too big, not a member, ...): it stays in the outbox, shown as
    // not sent, and is not sent again.
    await put('outbox', Object.assign({}, m, {failed: true, error: e.message}));
    status('Not sent: ' + e.message);
    if (S.open && S.open.id === m.conv) await renderMessages(true);
    return;
  }
  const seq = ack.u64(2);
  if (isChange(m)) {
    const change = Object.assign({}, m, {seq, sentAt: ack.i64(3), state: 'sent'});
    delete change.clientMsgId;
    await applyChange(change);
    await del('outbox', m.clientMsgId);
    if (S.open && S.open.id === m.conv) await renderMessages();
    return;
  }
  const offDuty = ack.tables(5).map(wire.decodeDutyState).filter((d) => !d.onDuty);
  let stored;
  await update('messages', [m.conv, seq], (old) => {
    stored = Object.assign({}, old || m, {seq, sentAt: ack.i64(3), offDuty, state: 'sent'});
    return stored;
  });
  await del('outbox', m.clientMsgId);
  const conv = S.convs.get(m.conv);
  if (conv && (!conv.last || seq >= conv.last.seq)) {
    conv.last = summary(stored);
    conv.readUpTo = Math.max(conv.readUpTo || 0, seq);
    await put('convs', conv);
    renderConversations();
  }
  if (S.open && S.open.id === m.conv) await renderMessages(true);
}

// What waited while the page was offline goes out in order; the same client
// message id makes a resend take effect once.
async function flushOutbox() {
  const waiting = (await getAll('outbox')).filter((m) => !m.failed)
      .sort((a, b) => a.clientMsgId - b.clientMsgId);
  for (const m of waiting) await sendFromOutbox(m);
}

async function sendText() {
  const text = $('text').value.trim();
  if (!text || !S.open) return;
  $('text').value = '';
  await send({conv: S.open.id, kind: 'text', text});
}

// Voice: recorded with MediaRecorder, sent when the recording stops.
let recorder = null;
async function toggleRecording() {
  const button = $('record');
  if (recorder) { recorder.stop(); return; }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({audio: true});
  } catch (e) {
    status('The microphone is not available: ' + e.message);
    return;
  }
  const chunks = [];
  const started = Date.now();
  const conv = S.open.id;
  const format = recordingFormat();
  recorder = format.type ? new MediaRecorder(stream, {mimeType: format.type}) : new MediaRecorder(stream);
  recorder.ondataavailable = (ev) => { if (ev.data.size) chunks.push(ev.data); };
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    const type = recorder.mimeType || format.type || 'audio/webm';
    // A format of no known name goes by its MIME type (at most 32 characters).
    const codec = format.codec || type.split(';')[0].slice(0, 32);
    recorder = null;
    button.textContent = 'Record voice';
    button.setAttribute('aria-pressed', 'false');
    status('');
    const data = new Uint8Array(await new Blob(chunks, {type}).arrayBuffer());
    if (!data.length) return;
    await send({conv, kind: 'voice', codec, durationMs: Date.now() - started, data});
  };
  recorder.start();
  button.textContent = 'Stop and send';
  button.setAttribute('aria-pressed', 'true');
  status('Recording a voice message…');
}

// Pictures are sent as JPEG, at most 1600 pixels wide or high.
async function sendPicture(source, width, height) {
  const scale = Math.min(1, 1600 / Math.max(width, height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  canvas.getContext('2d').drawImage(source, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
  const data = new Uint8Array(await blob.arrayBuffer());
  await send({conv: S.open.id, kind: 'picture', mime: 'image/jpeg', width: canvas.width,
    height: canvas.height, data});
}

async function pictureFromFile(file) {
  try {
    const bitmap = await createImageBitmap(file);
    await sendPicture(bitmap, bitmap.width, bitmap.height);
  } catch (e) {
    status('Cannot send this picture: ' + e.message);
  }
}

let cameraStream = null;
async function openCamera() {
  try {
    cameraStream = await navigator.mediaDevices.getUserMedia({video: true});
  } catch (e) {
    status('The camera is not available: ' + e.message);
    return;
  }
  $('camera-video').srcObject = cameraStream;
  $('camera').hidden = false;
  $('camera-shoot').focus();
}
function closeCamera() {
  if (cameraStream) cameraStream.getTracks().forEach((t) => t.stop());
  cameraStream = null;
  $('camera-video').srcObject = null;
  $('camera').hidden = true;
}
async function shoot() {
  const video = $('camera-video');
  if (!video.videoWidth) await new Promise((r) => video.addEventListener('loadeddata', r, {once: true}));
  // The first frames of a camera that just started may still be black.
  if (video.requestVideoFrameCallback) {
    for (let i = 0; i < 3; ++i) await new Promise((r) => video.requestVideoFrameCallback(() => r()));
  }
  const w = video.videoWidth;
  const h = video.videoHeight;
  const frameCanvas = document.createElement('canvas');
  frameCanvas.width = w;
  frameCanvas.height = h;
  frameCanvas.getContext('2d').drawImage(video, 0, 0, w, h);
  closeCamera();
  await sendPicture(frameCanvas, w, h);
}

// ------------------------------------------------------------------ presence and the timer

async function refreshPresence() {
  const conv = S.open;
  if (!conv || !S.ws) return;
  try {
    const reply = await request(wire.Body.PresenceQuery, wire.req.presenceQuery(conv.id));
    for (const p of reply.tables(0)) onPresence(p, true);
  } catch (e) { /* shown when it changes */ }
  renderPresence();
}

function onPresence(t, quiet) {
  S.presence.set(t.str(0), {state: t.u8(1), until: t.i64(2)});
  if (!quiet) renderPresence();
}

function renderPresence() {
  const conv = S.open;
  if (!conv) return;
  const parts = [];
  for (const m of conv.members) {
    if (m.login === S.me.login) continue;
    const p = S.presence.get(m.login);
    if (!p) continue;
    if (p.state === wire.PresenceState.OffDuty) {
      parts.push(m.login + ': off duty' + (p.until ? ' until ' + fmtUntil(p.until) : ''));
    } else if (conv.kind === 'direct') {
      parts.push(p.state === wire.PresenceState.Online ? 'online' : 'offline');
    }
  }
  $('conv-presence').textContent = parts.join(' · ');
}

const kDays = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
let dutyTimer = null;

async function refreshSchedule() {
  try {
    const info = await request(wire.Body.ScheduleGet, wire.req.scheduleGet());
    S.schedule = wire.decodeSchedule(info.table(1));
    S.duty = wire.decodeDutyState(info.table(2));
  } catch (e) {
    S.duty = null;
  }
  renderDuty();
  clearTimeout(dutyTimer);
  if (S.duty && S.duty.until) {
    const ms = Math.min(S.duty.until / 1000 - Date.now() + 1000, 6 * 3600 * 1000);
    dutyTimer = setTimeout(refreshSchedule, Math.max(ms, 5000));
  }
}

function renderDuty() {
  const d = S.duty;
  const el = $('duty');
  if (!d || d.onDuty) {
    el.textContent = '';
    el.hidden = true;
    document.body.classList.remove('off-duty');
  } else {
    el.textContent = 'You are off duty' + (d.until ? ' until ' + fmtUntil(d.until) : '') +
        '. ChatPro is quiet: no notifications until your working hours start.';
    el.hidden = false;
    document.body.classList.add('off-duty');
  }
  const state = d ? (d.onDuty ? 'You are on duty' + (d.until ? ' until ' + fmtUntil(d.until) : '') + '.'
      : 'You are off duty' + (d.until ? ' until ' + fmtUntil(d.until) : '') + '.') : '';
  $('hours-state').textContent = state;
}

const minutes = (s) => { const [h, m] = s.split(':').map(Number); return h * 60 + m; };
const hhmm = (n) => n >= 1440 ? '24:00' :
  String(Math.floor(n / 60)).padStart(2, '0') + ':' + String(n % 60).padStart(2, '0');

// Blocking: no direct messages either way with someone blocked (the broker
// decides). The list comes with each session; a direct chat's header has
// the button.
async function refreshBlocked() {
  try {
    const list = await request(wire.Body.ListBlocked, wire.req.empty());
    S.blocked = new Set(list.tables(0).map((u) => u.str(1)));
  } catch (e) {
    S.blocked = new Set();
  }
  renderBlock();
}

function otherOf(conv) {
  if (!conv || conv.kind !== 'direct') return null;
  const other = conv.members.find((m) => m.login !== S.me.login);
  return other ? other.login : null;
}

function renderBlock() {
  const other = otherOf(S.open);
  const button = $('block');
  button.hidden = !other;
  if (!other) return;
  const blocked = S.blocked.has(other);
  button.textContent = blocked ? 'Unblock' : 'Block';
  button.setAttribute('aria-label', (blocked ? 'Unblock ' : 'Block ') + other);
}

async function toggleBlock() {
  const other = otherOf(S.open);
  if (!other) return;
  const blocked = S.blocked.has(other);
  try {
    await request(blocked ? wire.Body.Unblock : wire.Body.Block, wire.req.block(other));
  } catch (e) {
    status((blocked ? 'Not unblocked: ' : 'Not blocked: ') + e.message);
    return;
  }
  if (blocked) S.blocked.delete(other); else S.blocked.add(other);
  renderBlock();
  status(blocked ? 'You unblocked ' + other + '.' :
      'You blocked ' + other + ': no direct messages either way until you unblock them.');
}

// Reporting someone's message to the organisation (a dialog).
let reporting = null;
function openReport(m) {
  reporting = m;
  $('report-what').textContent = 'From ' + m.sender + ': ' + summary(m).text.slice(0, 200);
  $('report-reason').value = '';
  $('report-error').textContent = '';
  $('report').showModal();
  $('report-reason').focus();
}

async function sendReport(ev) {
  ev.preventDefault();
  if (!reporting) return;
  const reason = $('report-reason').value.trim();
  if (!reason) {
    $('report-error').textContent = 'Say why, so that the administrators can act on it.';
    return;
  }
  try {
    await request(wire.Body.Report, wire.req.report(reporting.conv, reporting.seq, reason));
  } catch (e) {
    $('report-error').textContent = 'Not reported: ' + e.message;
    return;
  }
  reporting = null;
  $('report').close();
  status('Reported. Your organisation\'s administrators will look at it.');
}

// Editing or deleting one's own message (a dialog).
let changing = null;
function openChange(m) {
  changing = m;
  $('change-edit').hidden = m.kind !== 'text';
  $('change-text').value = m.kind === 'text' ? m.text : '';
  $('change-error').textContent = '';
  $('change').showModal();
  if (m.kind === 'text') $('change-text').focus();
}

async function saveChange(ev) {
  ev.preventDefault();
  const text = $('change-text').value.trim();
  if (!changing) return;
  if (!text) {
    $('change-error').textContent = 'A message cannot be empty; delete it instead.';
    return;
  }
  const m = changing;
  changing = null;
  $('change').close();
  if (text !== m.text) await send({conv: m.conv, kind: 'edit', target: m.seq, text});
}

async function deleteChanging() {
  if (!changing) return;
  const m = changing;
  changing = null;
  $('change').close();
  await send({conv: m.conv, kind: 'deletion', target: m.seq});
}

function openHours() {
  const s = S.schedule || {timeZone: '', week: [], mayChange: []};
  $('hours-zone').value = s.timeZone;
  $('hours-zone').disabled = !s.mayChange.includes('time_zone');
  const canWeek = s.mayChange.includes('week');
  const rows = kDays.map((name, i) => {
    const day = s.week.find((d) => d.weekday === i);
    const p = day && day.periods.length ? day.periods[0] : null;
    const row = document.createElement('div');
    row.className = 'day';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.id = 'day-' + i;
    box.checked = !!p;
    box.disabled = !canWeek;
    const label = document.createElement('label');
    label.htmlFor = box.id;
    label.textContent = name;
    const from = document.createElement('input');
    from.type = 'time';
    from.id = 'day-' + i + '-from';
    from.value = hhmm(p ? p[0] : 480);
    from.disabled = !canWeek;
    from.setAttribute('aria-label', name + ' from');
    const to = document.createElement('input');
    to.type = 'time';
    to.id = 'day-' + i + '-to';
    to.value = hhmm(p ? Math.min(p[1], 1439) : 1020);
    to.disabled = !canWeek;
    to.setAttribute('aria-label', name + ' until');
    row.append(box, label, from, document.createTextNode('–'), to);
    // Only the first period of a day is edited here; the others stay.
    row.dataset.more = JSON.stringify(day ? day.periods.slice(1) : []);
    if (day && day.periods.length > 1) {
      row.append(note('and ' + day.periods.slice(1).map((q) => hhmm(q[0]) + '–' + hhmm(q[1])).join(', ')));
    }
    return row;
  });
  $('hours-days').replaceChildren(...rows);
  $('hours-save').disabled = !canWeek && $('hours-zone').disabled;
  $('hours-error').textContent = canWeek ? '' : 'Your organisation sets your working days and hours.';
  renderDuty();
  $('hours').showModal();
}

async function saveHours(ev) {
  ev.preventDefault();
  const week = [];
  kDays.forEach((name, i) => {
    if (!$('day-' + i).checked) return;
    const from = minutes($('day-' + i + '-from').value);
    let to = minutes($('day-' + i + '-to').value);
    if (to === 0) to = 1440;
    const more = JSON.parse($('day-' + i).parentElement.dataset.more || '[]');
    week.push({weekday: i, periods: [[from, to], ...more]});
  });
  try {
    const info = await request(wire.Body.ScheduleSet, wire.req.scheduleSet($('hours-zone').value, week));
    S.schedule = wire.decodeSchedule(info.table(1));
    S.duty = wire.decodeDutyState(info.table(2));
    renderDuty();
    $('hours').close();
    await refreshSchedule();
  } catch (e) {
    $('hours-error').textContent = 'Not saved: ' + e.message;
  }
}

// Notifications only on duty, and only when the page is not in front.
function notify(conv, m) {
  if (!S.duty || !S.duty.onDuty) return;
  if (!document.hidden || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  const s = summary(m);
  try {
    new Notification(title(conv), {body: m.sender + ': ' + s.text, tag: 'conv-' + conv.id});
  } catch (e) { /* not supported here */ }
}

// ------------------------------------------------------------------ revocation

async function wiped(reason) {
  if (S.wiped) return;
  S.wiped = true;
  closeCamera();
  forgetShown();
  $('conversations').replaceChildren();
  $('announce').textContent = '';
  $('conv-title').textContent = '';
  $('conv-presence').textContent = '';
  await wipeStorage();
  // Told only once the local copy is gone.
  if (S.ws && S.ws.readyState === WebSocket.OPEN) {
    S.ws.send(wire.frame([{rid: 0, type: wire.Body.ConfirmWipe, body: wire.req.empty()}]));
  }
  $('wiped-reason').textContent = reason ? 'The organisation ended this device\'s access (' + reason + ').' :
    'The organisation ended this device\'s access.';
  document.body.classList.remove('in-conversation');
  status('');
  show('view-wiped');
}

// ------------------------------------------------------------------ start

async function loadPeople() {
  try {
    const reply = await request(wire.Body.Directory, wire.req.empty());
    $('people').replaceChildren(...reply.tables(0).map((u) => {
      const o = document.createElement('option');
      o.value = u.str(1);
      o.label = u.str(2) || u.str(1);
      return o;
    }));
  } catch (e) { /* the field still takes a login */ }
}

function bindControls() {
  $('invite-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = $('invite').value.trim();
    const code = inviteFromHash('#invite=' + encodeURIComponent(value));
    if (!/^[0-9A-Z]{16,64}$/.test(code)) {
      $('invite-error').textContent = 'This is not an invite: it is a code of letters and digits, ' +
          'or a link with one.';
      return;
    }
    $('invite-error').textContent = '';
    history.replaceState(null, '', '#invite=' + code);
    start().catch((e) => status('ChatPro cannot start in this browser: ' + e.message));
  });
  $('composer').addEventListener('submit', (ev) => { ev.preventDefault(); sendText(); });
  $('text').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); sendText(); }
  });
  $('record').addEventListener('click', toggleRecording);
  $('camera-open').addEventListener('click', openCamera);
  $('camera-cancel').addEventListener('click', closeCamera);
  $('camera-shoot').addEventListener('click', shoot);
  $('picture-file').addEventListener('change', (ev) => {
    const f = ev.target.files[0];
    ev.target.value = '';
    if (f) pictureFromFile(f);
  });
  $('older').addEventListener('click', loadOlder);
  $('scroller').addEventListener('scroll', () => {
    if ($('scroller').scrollTop === 0 && !$('older').hidden) loadOlder();
  });
  $('back').addEventListener('click', () => {
    S.open = null;
    $('conversation').hidden = true;
    document.body.classList.remove('in-conversation');
    renderConversations();
  });
  $('new-chat').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const info = await request(wire.Body.OpenDirect, wire.req.openDirect($('new-chat-user').value.trim()));
      $('new-chat-user').value = '';
      await refreshConversations();
      await openConversation(info.u64(0));
    } catch (e) { status('Cannot start the chat: ' + e.message); }
  });
  $('new-group').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const members = $('group-members').value.split(',').map((s) => s.trim()).filter(Boolean);
    try {
      const info = await request(wire.Body.CreateGroup, wire.req.createGroup($('group-name').value.trim(), members));
      $('group-name').value = '';
      $('group-members').value = '';
      await refreshConversations();
      await openConversation(info.u64(0));
    } catch (e) { status('Cannot create the group: ' + e.message); }
  });
  $('open-hours').addEventListener('click', openHours);
  $('hours-close').addEventListener('click', () => $('hours').close());
  $('hours-form').addEventListener('submit', saveHours);
  $('change-form').addEventListener('submit', saveChange);
  $('report-form').addEventListener('submit', sendReport);
  $('report-close').addEventListener('click', () => { reporting = null; $('report').close(); });
  $('block').addEventListener('click', toggleBlock);
  $('change-delete').addEventListener('click', deleteChanging);
  $('change-close').addEventListener('click', () => { changing = null; $('change').close(); });
  $('notify').addEventListener('click', async () => {
    if (typeof Notification !== 'undefined') await Notification.requestPermission();
    $('notify').hidden = typeof Notification === 'undefined' || Notification.permission !== 'default';
  });
  $('notify').hidden = typeof Notification === 'undefined' || Notification.permission !== 'default';
  // Leaving the page ends the session at once (Goodbye), rather than when
  // the broker finds the route gone: others see this device offline, and
  // nothing is delivered to a page that is not there.
  window.addEventListener('pagehide', () => {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN || S.wiped) return;
    sendAcks();
    S.ws.send(wire.frame([{rid: 0, type: wire.Body.Goodbye, body: wire.req.empty()}]));
    S.ws.onclose = null;
    S.ws.close(1000);
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && S.open) {
      S.open.unread = 0;
      renderConversations();
    }
  });
}

async function start() {
  if (!db) db = await openDb();
  S.device = await kvGet('device');
  const code = inviteFromHash();
  if (!S.device) {
    if (!code) return show('view-start');
    show('view-join');
    $('device-name').value = 'Web browser';
    try {
      await crypto.subtle.generateKey({name: 'Ed25519'}, false, ['sign', 'verify']);
    } catch (e) {
      $('join').disabled = true;
      $('join-error').textContent = 'This browser cannot keep a ChatPro device key (it has no ' +
          'Ed25519 in WebCrypto). Please use a current version of Chrome, Edge, Firefox or Safari.';
      return;
    }
    $('join-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      $('join').disabled = true;
      $('join-error').textContent = '';
      status('Joining…');
      try {
        await enroll(code, $('device-name').value.trim() || 'Web browser');
        history.replaceState(null, '', location.pathname);
        status('');
        await start();
      } catch (e) {
        status('');
        $('join-error').textContent = 'Could not join: ' + (e.message || e.reason || e);
        $('join').disabled = false;
      }
    }, {once: false});
    return;
  }
  if (code) history.replaceState(null, '', location.pathname);  // this browser is enrolled already
  for (const c of await getAll('convs')) S.convs.set(c.id, c);
  show('view-chat');
  $('me').textContent = S.device.login;
  S.me = {login: S.device.login, deviceId: S.device.deviceId};
  renderConversations();
  connect();
}

bindControls();
start().catch((e) => status('ChatPro cannot start in this browser: ' + e.message));
