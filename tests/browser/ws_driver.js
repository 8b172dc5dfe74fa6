// The command driver of ws_peer.mjs, shared by Node and the browser page:
// it runs one nats.ws connection as the test on the other side asks, one
// JSON command at a time, and reports events through `emit`.
//
// Commands: {op:"connect", servers, options} {op:"sub", id, subject, queue,
// respond} {op:"unsub", id} {op:"pub", subject, data, headers, reply}
// {op:"req", subject, data, headers, timeout} {op:"flush"} {op:"close"}.
// Events: {ev:"connected", info} {ev:"subscribed", id} {ev:"msg", id,
// subject, data, reply, headers} {ev:"published"} {ev:"reply", data,
// headers} {ev:"flushed"} {ev:"status", type, data} {ev:"closed", error}
// {ev:"error", op, message}.
// eslint-disable-next-line no-unused-vars
function makeDriver(nats, emit) {
  const codec = nats.StringCodec();
  const subs = new Map();
  let nc = null;
  const toHeaders = (object) => {
    if (!object) return undefined;
    const h = nats.headers();
    for (const [key, value] of Object.entries(object)) h.append(key, value);
    return h;
  };
  const fromHeaders = (h) => {
    if (!h) return null;
    const out = {};
    for (const key of h.keys()) out[key] = h.get(key);
    return out;
  };
  const handlers = {
    async connect(c) {
      nc = await nats.connect({ servers: c.servers, ...(c.options || {}) });
      (async () => {
        for await (const s of nc.status()) {
          emit({ ev: "status", type: String(s.type), data: String(s.data), message: String(s.data?.message ?? "") });
        }
      })();
      nc.closed().then((err) => emit({ ev: "closed", error: err ? String(err.message || err) : null }));
      emit({ ev: "connected", info: nc.info });
    },
    async sub(c) {
      const sub = nc.subscribe(c.subject, c.queue ? { queue: c.queue } : {});
      subs.set(c.id, sub);
      (async () => {
        for await (const m of sub) {
          emit({ ev: "msg", id: c.id, subject: m.subject, data: codec.decode(m.data), reply: m.reply || "",
                 headers: fromHeaders(m.headers) });
          if (c.respond && m.reply) m.respond(codec.encode("re:" + codec.decode(m.data)));
        }
      })().catch((err) => emit({ ev: "error", op: "sub", message: String(err.message || err) }));
      await nc.flush();
      emit({ ev: "subscribed", id: c.id });
    },
    async unsub(c) {
      subs.get(c.id)?.unsubscribe();
      await nc.flush();
      emit({ ev: "unsubscribed", id: c.id });
    },
    async pub(c) {
      nc.publish(c.subject, codec.encode(c.data || ""), { headers: toHeaders(c.headers), reply: c.reply });
      await nc.flush();
      emit({ ev: "published" });
    },
    async req(c) {
      const m = await nc.request(c.subject, codec.encode(c.data || ""),
                                 { timeout: c.timeout || 20000, headers: toHeaders(c.headers) });
      emit({ ev: "reply", data: codec.decode(m.data), headers: fromHeaders(m.headers) });
    },
    async flush() {
      await nc.flush();
      emit({ ev: "flushed" });
    },
    async close() {
      await nc.close();
    },
  };
  let chain = Promise.resolve();
  return (command) => {
    chain = chain.then(async () => {
      try {
        await handlers[command.op](command);
      } catch (err) {
        emit({ ev: "error", op: command.op, message: String((err && (err.code || err.message)) || err) });
      }
    });
  };
}
if (typeof module !== "undefined") module.exports = { makeDriver };
