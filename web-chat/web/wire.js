// SPDX-License-Identifier: Apache-2.0
//
// The wire.fbs Frames the web chat speaks, read and written by hand (no
// generated code, no library from the internet). Only the tables the page
// uses are here; field numbers follow schemas/wire.fbs (a union takes two:
// its type, then its value). Integers of 64 bits are JavaScript numbers:
// ids, sequence numbers and microsecond times stay below 2^53.

// ------------------------------------------------------------------ reading

export class Table {
  constructor(view, pos) {
    this.v = view;
    this.pos = pos;
    this.vt = pos - view.getInt32(pos, true);
    this.vtSize = view.getUint16(this.vt, true);
  }
  // Position of field `id`, or 0 if absent.
  off(id) {
    const o = 4 + 2 * id;
    if (o >= this.vtSize) return 0;
    const f = this.v.getUint16(this.vt + o, true);
    return f ? this.pos + f : 0;
  }
  u8(id, d = 0) { const p = this.off(id); return p ? this.v.getUint8(p) : d; }
  bool(id, d = false) { const p = this.off(id); return p ? this.v.getUint8(p) !== 0 : d; }
  u16(id, d = 0) { const p = this.off(id); return p ? this.v.getUint16(p, true) : d; }
  u32(id, d = 0) { const p = this.off(id); return p ? this.v.getUint32(p, true) : d; }
  u64(id, d = 0) { const p = this.off(id); return p ? Number(this.v.getBigUint64(p, true)) : d; }
  i64(id, d = 0) { const p = this.off(id); return p ? Number(this.v.getBigInt64(p, true)) : d; }
  ref(id) {
    const p = this.off(id);
    return p ? p + this.v.getUint32(p, true) : 0;
  }
  table(id) { const p = this.ref(id); return p ? new Table(this.v, p) : null; }
  str(id, d = '') {
    const p = this.ref(id);
    if (!p) return d;
    const n = this.v.getUint32(p, true);
    return new TextDecoder().decode(new Uint8Array(this.v.buffer, this.v.byteOffset + p + 4, n));
  }
  bytes(id) {
    const p = this.ref(id);
    if (!p) return new Uint8Array(0);
    const n = this.v.getUint32(p, true);
    return new Uint8Array(this.v.buffer.slice(this.v.byteOffset + p + 4, this.v.byteOffset + p + 4 + n));
  }
  tables(id) {
    const p = this.ref(id);
    if (!p) return [];
    const n = this.v.getUint32(p, true);
    const out = [];
    for (let i = 0; i < n; ++i) {
      const e = p + 4 + 4 * i;
      out.push(new Table(this.v, e + this.v.getUint32(e, true)));
    }
    return out;
  }
  strings(id) {
    const p = this.ref(id);
    if (!p) return [];
    const n = this.v.getUint32(p, true);
    const out = [];
    for (let i = 0; i < n; ++i) {
      const e = p + 4 + 4 * i;
      const s = e + this.v.getUint32(e, true);
      const len = this.v.getUint32(s, true);
      out.push(new TextDecoder().decode(new Uint8Array(this.v.buffer, this.v.byteOffset + s + 4, len)));
    }
    return out;
  }
  // A vector of structs of `size` bytes: their positions.
  structs(id, size) {
    const p = this.ref(id);
    if (!p) return [];
    const n = this.v.getUint32(p, true);
    const out = [];
    for (let i = 0; i < n; ++i) out.push(p + 4 + size * i);
    return out;
  }
}

export function root(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const copy = new Uint8Array(u8);  // aligned, zero-based
  const view = new DataView(copy.buffer);
  if (copy.length < 8) throw new Error('short buffer');
  return new Table(view, view.getUint32(0, true));
}

// ------------------------------------------------------------------ writing
//
// Values to write: tbl([...fields]) where field i is null (absent) or one of
// u8(x) bool(x) u16(x) u32(x) u64(x) i64(x) str(s) bytes(u8) vec([tbl...])
// strs([s...]) structs(size, align, (view, pos, item) => {}, items) or a
// nested tbl. Children are written after their parent, so every offset
// points forward as the Verifier wants.

export const u8 = (x) => ({k: 'u8', x});
export const bool = (x) => ({k: 'u8', x: x ? 1 : 0});
export const u16 = (x) => ({k: 'u16', x});
export const u32 = (x) => ({k: 'u32', x});
export const u64 = (x) => ({k: 'u64', x});
export const i64 = (x) => ({k: 'i64', x});
export const str = (x) => ({k: 'str', x});
export const bytes = (x) => ({k: 'bytes', x});
export const tbl = (fields) => ({k: 'tbl', fields});
export const vec = (x) => ({k: 'vec', x});
export const strs = (x) => ({k: 'strs', x});
export const structs = (size, align, put, items) => ({k: 'structs', size, align, put, items});

const kScalar = {u8: 1, u16: 2, u32: 4, u64: 8, i64: 8};

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.len = 0;
  }
  grow(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf);
    this.buf = b;
  }
  alloc(n, align) {
    while (this.len % align) { this.grow(1); this.buf[this.len++] = 0; }
    this.grow(n);
    const p = this.len;
    this.len += n;
    return p;
  }
  get view() { return new DataView(this.buf.buffer); }
  putScalar(k, p, x) {
    const v = this.view;
    if (k === 'u8') v.setUint8(p, x);
    else if (k === 'u16') v.setUint16(p, x, true);
    else if (k === 'u32') v.setUint32(p, x, true);
    else if (k === 'u64') v.setBigUint64(p, BigInt(x), true);
    else if (k === 'i64') v.setBigInt64(p, BigInt(x), true);
  }
  // Writes `value` (not a scalar) and returns its position.
  write(value) {
    switch (value.k) {
      case 'tbl': return this.writeTable(value.fields);
      case 'str': {
        const b = new TextEncoder().encode(value.x);
        const p = this.alloc(4 + b.length + 1, 4);
        this.view.setUint32(p, b.length, true);
        this.buf.set(b, p + 4);
        this.buf[p + 4 + b.length] = 0;
        return p;
      }
      case 'bytes': {
        const b = value.x;
        const p = this.alloc(4 + b.length, 4);
        this.view.setUint32(p, b.length, true);
        this.buf.set(b, p + 4);
        return p;
      }
      case 'vec':
      case 'strs': {
        const items = value.k === 'strs' ? value.x.map(str) : value.x;
        const p = this.alloc(4 + 4 * items.length, 4);
        this.view.setUint32(p, items.length, true);
        items.forEach((item, i) => {
          const c = this.write(item);
          this.view.setUint32(p + 4 + 4 * i, c - (p + 4 + 4 * i), true);
        });
        return p;
      }
      case 'structs': {
        // The length sits right before the first element, which is aligned.
        while ((this.len + 4) % value.align) this.alloc(1, 1);
        const p = this.alloc(4 + value.size * value.items.length, 4);
        this.view.setUint32(p, value.items.length, true);
        value.items.forEach((item, i) => value.put(this.view, p + 4 + value.size * i, item));
        return p;
      }
      default: throw new Error('cannot write ' + value.k);
    }
  }
  writeTable(fields) {
    // vtable
    const n = fields.length;
    const vt = this.alloc(4 + 2 * n, 2);
    // table: soffset, then the fields, largest first so each is aligned
    const order = fields.map((f, i) => i).filter((i) => fields[i] !== null && fields[i] !== undefined);
    const size = (f) => kScalar[f.k] || 4;
    order.sort((a, b) => size(fields[b]) - size(fields[a]));
    // With 8-byte fields the table starts at 4 mod 8, so the first follows
    // the soffset aligned; every field is aligned by its absolute position.
    const hasWide = order.some((i) => size(fields[i]) === 8);
    if (hasWide) while ((this.len + 4) % 8) this.alloc(1, 1);
    else this.alloc(0, 4);
    const start = this.len;
    let tsize = 4;
    const at = {};
    for (const i of order) {
      const s = size(fields[i]);
      while ((start + tsize) % s) tsize++;
      at[i] = tsize;
      tsize += s;
    }
    const t = this.alloc(tsize, 1);
    for (let i = 0; i < tsize; ++i) this.buf[t + i] = 0;
    const v = this.view;
    v.setInt32(t, t - vt, true);
    v.setUint16(vt, 4 + 2 * n, true);
    v.setUint16(vt + 2, tsize, true);
    for (let i = 0; i < n; ++i) this.view.setUint16(vt + 4 + 2 * i, at[i] || 0, true);
    for (const i of order) {
      const f = fields[i];
      if (kScalar[f.k]) this.putScalar(f.k, t + at[i], f.x);
    }
    for (const i of order) {
      const f = fields[i];
      if (kScalar[f.k]) continue;
      const c = this.write(f);
      this.view.setUint32(t + at[i], c - (t + at[i]), true);
    }
    return t;
  }
}

// A whole buffer with `rootTable` and the file identifier.
export function finish(rootTable, ident) {
  const w = new Writer();
  w.alloc(8, 1);
  const r = w.write(rootTable);
  w.view.setUint32(0, r, true);
  if (ident) for (let i = 0; i < 4; ++i) w.buf[4 + i] = ident.charCodeAt(i);
  return w.buf.slice(0, w.len);
}

// ------------------------------------------------------------------ wire.fbs

export const Body = {
  Hello: 1, Send: 2, Ack: 3, History: 4, Ping: 5, OpenDirect: 6, CreateGroup: 7,
  ListConversations: 11, Enroll: 12, Directory: 14, HelloReply: 17, SendAck: 18,
  ConversationInfo: 19, ConversationList: 20, HistoryReply: 21, Pong: 22, EnrollReply: 23,
  UserList: 25, Done: 26, Error: 27, Delivery: 28, ConfirmWipe: 33, Block: 34, Unblock: 35,
  ListBlocked: 36, Report: 37, Revoked: 46, Goodbye: 47,
  ScheduleGet: 68, ScheduleSet: 69, PresenceQuery: 70, ScheduleInfo: 72, Presence: 73,
  PresenceList: 74,
};
export const Content = {Text: 1, Voice: 2, Picture: 3, Edit: 4, Deletion: 5};
export const PresenceState = {Online: 0, Offline: 1, OffDuty: 2};

// One Frame of envelopes [{rid, type, body: tbl(...) or null}].
export function frame(envelopes) {
  return finish(tbl([u16(1), vec(envelopes.map((e) => tbl([
    u64(e.rid), u8(e.type), e.body || tbl([]),
  ])))]), 'CPW1');
}

export const req = {
  hello: (version) => tbl([str(version), bool(true)]),
  send: (conv, toUser, clientMsgId, contentType, content) => tbl([
    conv ? u64(conv) : null, toUser ? str(toUser) : null, u64(clientMsgId), u8(contentType), content,
  ]),
  text: (body) => tbl([str(body)]),
  voice: (codec, durationMs, audio) => tbl([str(codec), u32(durationMs), bytes(audio)]),
  picture: (mime, width, height, image) => tbl([str(mime), u32(width), u32(height), bytes(image)]),
  edit: (targetSeq, text) => tbl([u64(targetSeq), str(text)]),
  deletion: (targetSeq) => tbl([u64(targetSeq)]),
  ack: (cursors) => tbl([structs(16, 8, (v, p, c) => {
    v.setBigUint64(p, BigInt(c[0]), true);
    v.setBigUint64(p + 8, BigInt(c[1]), true);
  }, cursors)]),
  history: (conv, fromSeq, limit) => tbl([u64(conv), null, u64(fromSeq), u32(limit), bool(true)]),
  openDirect: (user) => tbl([str(user)]),
  createGroup: (name, members) => tbl([str(name), strs(members)]),
  enroll: (key, name, version) => tbl([bytes(key), str(name), str(version), u8(1)]),
  scheduleGet: () => tbl([]),
  // Only the time zone and the week: the parts left out are not changed.
  scheduleSet: (timeZone, week) => tbl([null, tbl([
    str(timeZone),
    vec(week.map((d) => tbl([u8(d.weekday), structs(4, 2, (v, p, w) => {
      v.setUint16(p, w[0], true);
      v.setUint16(p + 2, w[1], true);
    }, d.periods)]))),
  ])]),
  presenceQuery: (conv) => tbl([u64(conv)]),
  block: (login) => tbl([str(login)]),  // Block and Unblock
  report: (conv, seq, reason) => tbl([u64(conv), u64(seq), str(reason)]),
  empty: () => tbl([]),
};

// ------------------------------------------------------------------ decoding

export function decodeFrame(bytes) {
  const f = root(bytes);
  return f.tables(1).map((e) => ({rid: e.u64(0), type: e.u8(1), body: e.table(2)}));
}

export function decodeMessage(bytes) {
  const m = root(bytes);
  const type = m.u8(7);
  const c = m.table(8);
  const msg = {
    conv: m.u64(0), seq: m.u64(1), senderId: m.u64(2), sender: m.str(3),
    senderDevice: m.u64(4), clientMsgId: m.u64(5), sentAt: m.i64(6), kind: 'other',
    attachmentsRemoved: m.i64(9) !== 0, urgent: m.bool(10),
  };
  if (c && type === Content.Text) {
    msg.kind = 'text';
    msg.text = c.str(0);
  } else if (c && type === Content.Voice) {
    msg.kind = 'voice';
    msg.codec = c.str(0);
    msg.durationMs = c.u32(1);
    msg.data = c.bytes(2);
  } else if (c && type === Content.Picture) {
    msg.kind = 'picture';
    msg.mime = c.str(0);
    msg.width = c.u32(1);
    msg.height = c.u32(2);
    msg.data = c.bytes(3);
  } else if (c && type === Content.Edit) {
    msg.kind = 'edit';
    msg.target = c.u64(0);
    msg.text = c.str(1);
  } else if (c && type === Content.Deletion) {
    msg.kind = 'deletion';
    msg.target = c.u64(0);
  }
  return msg;
}

export function decodeDutyState(t) {
  return t ? {login: t.str(0), onDuty: t.bool(1), until: t.i64(2)} : null;
}

export function decodeConversation(t) {
  return {
    id: t.u64(0), kind: t.u8(1) === 1 ? 'group' : 'direct', name: t.str(2),
    members: t.tables(3).map((m) => ({login: m.str(0), name: m.str(1), owner: m.bool(2)})),
    headSeq: t.u64(4), firstSeq: t.u64(5),
  };
}

export function decodeSchedule(t) {
  if (!t) return null;
  return {
    timeZone: t.str(0),
    week: t.tables(1).map((d) => ({
      weekday: d.u8(0),
      periods: d.structs(1, 4).map((p) => [d.v.getUint16(p, true), d.v.getUint16(p + 2, true)]),
    })),
    mayChange: t.strings(6),
  };
}
