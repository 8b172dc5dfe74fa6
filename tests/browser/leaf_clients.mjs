// Stock npm `nats` (nats.js, TCP) clients on both sides of a leafnode
// connection: `node leaf_clients.mjs LEAF_URL HUB_URL [HUB_URL2]`. LEAF_URL is
// the leaf server (Courier), HUB_URL a member of the hub cluster it is a leaf
// of; HUB_URL2, another member, carries the queue members on the hub side
// when given. Interest crosses the leaf asynchronously, so each check first
// waits for it (probes with a generous deadline, never a fixed sleep). Prints
// "ok NAME" per check, "all passed" at the end; exits 1 with the reason on the
// first failure.
import { connect, headers, StringCodec, ErrorCode } from "nats";

const [leafUrl, hubUrl, hubUrl2] = process.argv.slice(2);
if (!leafUrl || !hubUrl) {
  console.error("usage: node leaf_clients.mjs LEAF_URL HUB_URL [HUB_URL2]");
  process.exit(2);
}
const sc = StringCodec();
const DEADLINE_MS = 60000;

function fail(message) {
  console.log("FAIL " + message);
  process.exit(1);
}

async function sleep(ms) {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** A subscription whose messages queue up until taken with next(). */
class Inbox {
  constructor(nc, subject, options = {}) {
    this.items = [];
    this.wake = null;
    this.sub = nc.subscribe(subject, {
      ...options,
      callback: (err, m) => {
        if (err) return;
        this.items.push(m);
        if (this.wake) {
          const wake = this.wake;
          this.wake = null;
          wake();
        }
      },
    });
  }

  /** The next message, or null after ms. */
  async next(ms) {
    const end = Date.now() + ms;
    while (this.items.length === 0) {
      const left = end - Date.now();
      if (left <= 0) return null;
      let timer;
      await new Promise((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return this.items.shift();
  }

  unsubscribe() {
    this.sub.unsubscribe();
  }
}

/** Publishes `probe` until the inbox gets it (interest has crossed). */
async function untilDelivered(publisher, subject, inbox) {
  const end = Date.now() + DEADLINE_MS;
  while (Date.now() < end) {
    publisher.publish(subject, sc.encode("probe"));
    await publisher.flush();
    if (await inbox.next(250)) {
      // Further probes already on their way.
      while (await inbox.next(200)) { /* probe */ }
      return;
    }
  }
  fail("no interest across the leaf for " + subject);
}

/** Requests until one is answered (the responder's interest has crossed). */
async function untilAnswered(requester, subject) {
  const end = Date.now() + DEADLINE_MS;
  while (Date.now() < end) {
    try {
      return await requester.request(subject, sc.encode("probe"), { timeout: 1000 });
    } catch (e) {
      if (e.code !== ErrorCode.NoResponders && e.code !== ErrorCode.Timeout) throw e;
      await sleep(100);
    }
  }
  fail("no answer across the leaf on " + subject);
}

async function pubSub(name, from, to, pattern, subject) {
  const inbox = new Inbox(to, pattern);
  await to.flush();
  await untilDelivered(from, subject, inbox);
  const count = 200;
  for (let i = 0; i < count; i++) from.publish(subject, sc.encode("m" + i));
  await from.flush();
  for (let i = 0; i < count; i++) {
    const m = await inbox.next(DEADLINE_MS);
    if (!m) fail(`${name}: message ${i} of ${count} did not arrive`);
    if (sc.decode(m.data) !== "m" + i) fail(`${name}: message ${i} was ${sc.decode(m.data)}`);
    if (m.subject !== subject) fail(`${name}: subject ${m.subject}`);
  }
  inbox.unsubscribe();
  console.log("ok " + name);
}

async function requestReply(name, requester, responder, subject) {
  const sub = responder.subscribe(subject, {
    callback: (err, m) => { if (!err) m.respond(sc.encode("re:" + sc.decode(m.data))); },
  });
  await responder.flush();
  await untilAnswered(requester, subject);
  for (let i = 0; i < 20; i++) {
    const r = await requester.request(subject, sc.encode("q" + i), { timeout: 10000 });
    if (sc.decode(r.data) !== "re:q" + i) fail(`${name}: reply ${sc.decode(r.data)}`);
  }
  sub.unsubscribe();
  console.log("ok " + name);
}

async function headersAcross(name, from, to) {
  const inbox = new Inbox(to, "hdr.>");
  await to.flush();
  await untilDelivered(from, "hdr.probe", inbox);
  const h = headers();
  h.set("Courier-Test", "value one");
  h.append("Courier-Test", "value two");
  from.publish("hdr.x", sc.encode("with headers"), { headers: h });
  await from.flush();
  const m = await inbox.next(DEADLINE_MS);
  if (!m) fail(name + ": no message");
  if (!m.headers) fail(name + ": no headers");
  const values = m.headers.values("Courier-Test");
  if (values.length !== 2 || values[0] !== "value one" || values[1] !== "value two") {
    fail(name + ": headers " + JSON.stringify(values));
  }
  if (sc.decode(m.data) !== "with headers") fail(name + ": payload " + sc.decode(m.data));
  inbox.unsubscribe();
  console.log("ok " + name);
}

async function noResponders(name, requester) {
  try {
    await requester.request("nobody.home.here", sc.encode("x"), { timeout: 10000 });
  } catch (e) {
    if (e.code === ErrorCode.NoResponders) {
      console.log("ok " + name);
      return;
    }
    fail(name + ": error " + e.code + " " + e.message);
  }
  fail(name + ": answered");
}

/** A queue group with members on both sides: each message reaches one member. */
async function queueAcrossBothSides(name, leaf, hubMember, publisher) {
  const seen = new Map();
  const bySide = { leaf: 0, hub: 0 };
  const member = (side) => (err, m) => {
    if (err) return;
    const body = sc.decode(m.data);
    seen.set(body, (seen.get(body) || 0) + 1);
    bySide[side]++;
  };
  const a = leaf.subscribe("work.items", { queue: "workers", callback: member("leaf") });
  const b = hubMember.subscribe("work.items", { queue: "workers", callback: member("hub") });
  await leaf.flush();
  await hubMember.flush();
  // The hub side must know of the leaf's member: a plain probe subscriber on
  // the leaf shows when interest from the leaf has crossed.
  const probe = new Inbox(leaf, "work.probe");
  await leaf.flush();
  await untilDelivered(publisher, "work.probe", probe);
  probe.unsubscribe();
  const count = 500;
  for (let i = 0; i < count; i++) publisher.publish("work.items", sc.encode("w" + i));
  await publisher.flush();
  const end = Date.now() + DEADLINE_MS;
  while (seen.size < count && Date.now() < end) await sleep(50);
  // Anything duplicated would arrive right behind; give it a moment to show.
  await leaf.flush();
  await hubMember.flush();
  if (seen.size !== count) fail(`${name}: ${seen.size} of ${count} delivered`);
  for (const [body, times] of seen) if (times !== 1) fail(`${name}: ${body} delivered ${times} times`);
  a.unsubscribe();
  b.unsubscribe();
  console.log(`ok ${name} (leaf member ${bySide.leaf}, hub member ${bySide.hub})`);
}

const leaf = await connect({ servers: leafUrl, name: "npm-leaf-side" });
const hub = await connect({ servers: hubUrl, name: "npm-hub-side" });
const hub2 = hubUrl2 ? await connect({ servers: hubUrl2, name: "npm-hub-side-2" }) : hub;
try {
  await pubSub("leaf to hub, wildcard", leaf, hub, "up.*", "up.one");
  await pubSub("hub to leaf, full wildcard", hub, leaf, "down.>", "down.a.b");
  await requestReply("request on the leaf, responder on the hub", leaf, hub, "svc.hub");
  await requestReply("request on the hub, responder on the leaf", hub, leaf, "svc.leaf");
  await headersAcross("headers hub to leaf", hub, leaf);
  await headersAcross("headers leaf to hub", leaf, hub);
  await noResponders("no responders on the leaf", leaf);
  await queueAcrossBothSides("queue group on both sides", leaf, hub2, hub);
  console.log("all passed");
} catch (e) {
  fail("exception: " + (e && e.stack ? e.stack : e));
} finally {
  await leaf.close();
  await hub.close();
  if (hub2 !== hub) await hub2.close();
}
