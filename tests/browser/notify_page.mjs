// The notification gateway's page (examples/notifications/index.html) in a
// real headless Chromium, driven as a person would use it, for a test on
// the other side: JSON commands on stdin, JSON events on stdout, one per
// line. It serves the page over HTTP on 127.0.0.1, opens it with
// ?gw=<gateway>, types into its fields, clicks its buttons and reads what
// the page shows (ids, data-* attributes and texts of its elements).
//
//   node notify_page.mjs --gateway ws://127.0.0.1:8095/notifications [--chromium /usr/bin/chromium]
//                        [--timeout-ms 10000] [--page FILE]
//
// Events: {ev:"ready"} once the page is connected, then one answer per
// command, in order:
//   {cmd:"authorize", token}      -> {ev:"authorized", user} | {ev:"error", cmd, message}
//   {cmd:"subscribe", groups:"a,b"}   -> {ev:"subscribed", groups:[...]} (groups may be a list)
//   {cmd:"unsubscribe", groups:"a"}   -> {ev:"unsubscribed", groups:[...]}
//   {cmd:"list"}                  -> {ev:"list", items:[{id, type, read, document, time, push}], total, unread}
//   {cmd:"wait_push", count}      -> {ev:"pushes", count, items:[...]} (the pushed ones shown, newest first)
//   {cmd:"read", id} / {cmd:"read_all"}  -> {ev:"read", unread}
//   {cmd:"screenshot", path}      -> {ev:"screenshot", path}
// Any command takes timeout_ms (default --timeout-ms, 10 s); a wait that
// runs out answers {ev:"timeout", cmd, waiting_for, page} instead. A refusal
// shown by the page answers {ev:"error", cmd, message}. At any time:
// {ev:"page_error", source:"console"|"exception", message} for the page's
// console errors and uncaught exceptions, {ev:"closed", message} when the
// page's connection closes, {ev:"fatal", message} (exit status 2) when the
// page cannot start. End of stdin: the browser is closed, exit status 0.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const fail = (message) => {
  emit({ ev: "fatal", message });
  process.exit(2);
};

function parseArgs(argv) {
  const options = {
    gateway: null,
    chromium: process.env.COURIER_CHROMIUM || "/usr/bin/chromium",
    timeoutMs: 10_000,
    page: path.join(here, "..", "..", "examples", "notifications", "index.html"),
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) fail(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--gateway": options.gateway = value(); break;
      case "--chromium": options.chromium = value(); break;
      case "--timeout-ms": options.timeoutMs = Number(value()); break;
      case "--page": options.page = value(); break;
      default: fail(`unknown argument ${argv[i]}`);
    }
  }
  if (!options.gateway) fail("give --gateway ws://HOST:PORT/PATH");
  if (!(options.timeoutMs > 0)) fail("--timeout-ms needs a positive number");
  if (!fs.existsSync(options.page)) fail(`the page ${options.page} does not exist`);
  if (!fs.existsSync(options.chromium)) fail(`Chromium not found at ${options.chromium} (apt-get install chromium)`);
  return options;
}

const options = parseArgs(process.argv.slice(2));
if (!fs.existsSync(path.join(here, "node_modules", "puppeteer-core"))) {
  fail(`${path.join(here, "node_modules")} has no puppeteer-core: run 'npm ci' in tests/browser`);
}
const puppeteer = (await import("puppeteer-core")).default;

// A wait that ran out; answered {ev:"timeout"}.
class Timeout extends Error {
  constructor(waitingFor) {
    super(`timed out waiting for ${waitingFor}`);
    this.waitingFor = waitingFor;
  }
}
// A command the page cannot carry out (no such button, disabled, ...);
// answered {ev:"error"}.
class Refused extends Error {}

// The page, read from disk at every request (edits show on reload).
const server = http.createServer((request, response) => {
  const { pathname } = new URL(request.url, "http://x");
  if (pathname === "/" || pathname === "/index.html") {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
      .end(fs.readFileSync(options.page));
  } else {
    response.writeHead(404, { "content-type": "text/plain" }).end("not found");
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));

const browser = await puppeteer.launch({
  executablePath: options.chromium,
  headless: true,
  // Root (CI) needs --no-sandbox; /dev/shm may be small in containers.
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"],
  protocolTimeout: 180_000,
  timeout: 120_000,
});
let closing = false;
async function shutdown(status) {
  if (closing) return;
  closing = true;
  await browser.close().catch(() => {});
  server.close();
  process.exit(status);
}
process.on("SIGTERM", () => shutdown(143));
process.on("SIGINT", () => shutdown(130));

const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
page.on("pageerror", (error) => emit({ ev: "page_error", source: "exception", message: error.message }));
page.on("console", (message) => {
  if (message.type() === "error") emit({ ev: "page_error", source: "console", message: message.text() });
});

// What the page shows, for a timeout's report.
const pageSummary = () => page.evaluate(() => {
  const error = document.getElementById("error");
  return `state '${document.body.dataset.state}', status '${document.getElementById("state").textContent}'` +
    (error.hidden ? "" : `, error '${document.getElementById("error-command").textContent} ` +
      `${document.getElementById("error-message").textContent}'`);
}).catch((e) => `(unreadable: ${e.message})`);

// Waits until `condition` (run in the page, with `arg`) returns a truthy
// value, and returns that value.
async function until(waitingFor, condition, arg, timeout) {
  try {
    const handle = await page.waitForFunction(condition, { polling: "mutation", timeout }, arg);
    return await handle.jsonValue();
  } catch (e) {
    if (e.name === "TimeoutError") throw new Timeout(waitingFor);
    throw e;
  }
}

// Clicks a button as a person would, once it is there, shown and enabled.
async function click(selector) {
  const button = await page.$(selector);
  if (!button) throw new Refused(`the page has no ${selector}`);
  const why = await button.evaluate((b) => {
    if (b.disabled) return "is disabled";
    if (b.getClientRects().length === 0 || getComputedStyle(b).visibility !== "visible") return "is not shown";
    return "";
  });
  if (why) throw new Refused(`${selector} ${why} (page state '${await page.evaluate(() => document.body.dataset.state)}')`);
  await button.click();
}

// Replaces the text of an input field by typing, as a person would.
async function typeInto(selector, text) {
  const field = await page.$(selector);
  if (!field) throw new Refused(`the page has no ${selector}`);
  await field.click();
  await page.keyboard.down("Control");
  await page.keyboard.press("KeyA");
  await page.keyboard.up("Control");
  await page.keyboard.press("Backspace");
  if (text) await field.type(text);
  const typed = await field.evaluate((f) => f.value);
  if (typed !== text) throw new Refused(`${selector} holds '${typed}' after typing '${text}'`);
}

// Clicks, then waits for the gateway's answer to show: `shownIn`'s data-seq
// moves past its value before the click and no request is left unanswered;
// or an error for `command` shows; or the connection closes.
async function clickAndWait(selector, shownIn, command, timeout) {
  const before = await page.evaluate((shown) => ({
    seq: Number(document.querySelector(shown).dataset.seq),
    errors: Number(document.getElementById("error").dataset.seq),
  }), shownIn);
  await click(selector);
  const outcome = await until(`the page's answer to ${command} (${shownIn} updated, or an error)`,
    ({ shown, seq, errors, command: name }) => {
      const error = document.getElementById("error");
      if (Number(error.dataset.seq) > errors && error.dataset.command === name) {
        return { error: document.getElementById("error-message").textContent };
      }
      if (document.body.dataset.state === "closed") {
        return { error: `the connection is closed (${document.getElementById("state").textContent})` };
      }
      return Number(document.querySelector(shown).dataset.seq) > seq && document.body.dataset.pending === "0" &&
        { ok: true };
    }, { shown: shownIn, ...before, command }, timeout);
  if (outcome.error !== undefined) throw new Refused(outcome.error);
}

const readItems = (selector) => page.$$eval(selector, (items) => items.map((item) => {
  let document = null;
  try { document = JSON.parse(item.dataset.document); } catch { document = item.dataset.document; }
  return {
    id: /^-?\d+$/.test(item.dataset.id) ? Number(item.dataset.id) : item.dataset.id,
    type: item.dataset.type,
    read: item.dataset.read === "true",
    document,
    time: item.querySelector("time")?.dateTime ?? null,
    push: item.dataset.push === "true",
  };
}));
const shownNumber = (id) => page.$eval(`#${id}`, (e) => Number(e.dataset.value));
const shownGroups = () => page.$$eval("#current-groups > li", (items) => items.map((i) => i.textContent));

// "alert,order" as typed into the groups field; a list is joined.
const groupsText = (groups) => (Array.isArray(groups) ? groups.join(",") : String(groups ?? ""));

const commands = {
  async authorize(c, timeout) {
    await typeInto("#token", String(c.token ?? ""));
    await clickAndWait("#authorize", "#user", "authorize", timeout);
    emit({ ev: "authorized", user: await page.evaluate(() => document.body.dataset.user) });
  },
  async subscribe(c, timeout) {
    await typeInto("#groups", groupsText(c.groups));
    await clickAndWait("#subscribe", "#current-groups", "subscribe", timeout);
    emit({ ev: "subscribed", groups: await shownGroups() });
  },
  async unsubscribe(c, timeout) {
    await typeInto("#groups", groupsText(c.groups));
    await clickAndWait("#unsubscribe", "#current-groups", "unsubscribe", timeout);
    emit({ ev: "unsubscribed", groups: await shownGroups() });
  },
  async list(c, timeout) {
    await clickAndWait("#refresh", "#list", "list", timeout);
    emit({ ev: "list", items: await readItems("#list > li"), total: await shownNumber("total"),
           unread: await shownNumber("unread") });
  },
  async wait_push(c, timeout) {
    const count = Number(c.count ?? 1);
    await until(`${count} pushed notification(s) shown`,
      (n) => Number(document.getElementById("push-count").dataset.value) >= n, count, timeout);
    emit({ ev: "pushes", count: await shownNumber("push-count"), items: await readItems("#list > li[data-push=true]") });
  },
  async read(c, timeout) {
    const selector = `#list > li[data-id="${String(c.id).replace(/["\\]/g, "")}"]`;
    const state = await page.$eval(selector, (item) => item.dataset.read).catch(() => null);
    if (state === null) throw new Refused(`notification ${c.id} is not shown`);
    if (state === "true") throw new Refused(`notification ${c.id} is already shown as read (no "mark read" button)`);
    await clickAndWait(`${selector} .mark-read`, "#counts", "read", timeout);
    emit({ ev: "read", unread: await shownNumber("unread") });
  },
  async read_all(c, timeout) {
    await clickAndWait("#mark-all-read", "#counts", "read", timeout);
    emit({ ev: "read", unread: await shownNumber("unread") });
  },
  async screenshot(c) {
    if (!c.path) throw new Refused("screenshot needs a path");
    fs.mkdirSync(path.dirname(path.resolve(c.path)), { recursive: true });
    await page.screenshot({ path: c.path, fullPage: true });
    emit({ ev: "screenshot", path: c.path });
  },
};

async function run(line) {
  let command;
  try {
    command = JSON.parse(line);
  } catch {
    emit({ ev: "error", cmd: null, message: `not JSON: ${line.slice(0, 200)}` });
    return;
  }
  const name = command?.cmd;
  const handler = Object.hasOwn(commands, name) ? commands[name] : null;
  if (!handler) {
    emit({ ev: "error", cmd: name ?? null, message: `unknown command '${name}'` });
    return;
  }
  const timeout = Number(command.timeout_ms) > 0 ? Number(command.timeout_ms) : options.timeoutMs;
  try {
    await handler(command, timeout);
  } catch (e) {
    if (e instanceof Timeout) emit({ ev: "timeout", cmd: name, waiting_for: e.waitingFor, page: await pageSummary() });
    else if (e instanceof Refused) emit({ ev: "error", cmd: name, message: e.message });
    else emit({ ev: "error", cmd: name, message: `driver failure: ${e.message}` });
  }
}

const gatewayQuery = new URLSearchParams({ gw: options.gateway }).toString();
try {
  await page.goto(`http://127.0.0.1:${server.address().port}/?${gatewayQuery}`, { waitUntil: "load", timeout: 120_000 });
} catch (e) {
  await browser.close().catch(() => {});
  fail(`could not load the page: ${e.message}`);
}
let started;
try {
  started = await until(`the page to connect to ${options.gateway}`, () => {
    const state = document.body.dataset.state;
    if (state === "connected") return { ok: true };
    return state === "closed" && { error: document.getElementById("error-message").textContent };
  }, null, options.timeoutMs);
} catch (e) {
  started = { error: `${e.message}; the page shows ${await pageSummary()}` };
}
if (started.error !== undefined) {
  await browser.close().catch(() => {});
  fail(`the page did not connect to ${options.gateway}: ${started.error}`);
}

// The connection closing later (the gateway went away, or closed the session).
until("the connection to close", () => document.body.dataset.state === "closed" &&
  { message: document.getElementById("state").textContent }, null, 0)
  .then((closed) => emit({ ev: "closed", message: closed.message }))
  .catch(() => {});  // the browser closed first

emit({ ev: "ready" });
let queue = Promise.resolve();
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim()) queue = queue.then(() => run(line));
});
lines.on("close", async () => {
  await queue.catch(() => {});
  await shutdown(0);
});
