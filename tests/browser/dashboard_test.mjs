// The /dashboard page in a real headless Chromium against a real Courier.
//
// Starts the courier binary with a monitoring port, its paths under an
// http_base_path, and a message service (a webhook handler posting to an
// HTTP peer of this test that refuses one request in four, and an audit
// file); opens <base>/dashboard and checks that the page loads without a
// console error or a failed request. Then it drives NATS traffic into the
// server over plain sockets (one publisher, two subscribers, events and
// audits for the service) and waits until the page shows it: a message
// rate above zero, the connection count the server reports, the busiest
// subject on top, the test's clients in the connections table, the
// handlers with messages sent. It makes the page's requests fail for a
// while (the page must say so) and lets them through
// again (the page must recover). Last, a screenshot.
//
//   node dashboard_test.mjs --courier build/courier --screenshot out.png
//   node dashboard_test.mjs --url http://127.0.0.1:8222/dashboard --nats-port 4222
//       (an already running server; for working on the page)
//
// Chromium under load is slow: every wait polls with a generous deadline
// rather than sleeping for a fixed time.

import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const WAIT_MS = 90_000;  // per step; CI runs this beside other suites on 2 cores

// A failure of the test, as opposed to a condition not met yet: it ends
// every wait at once.
class TestFailure extends Error {}
function fail(message) {
  console.error("FAIL: " + message);
  process.exitCode = 1;
  throw new TestFailure(message);
}
function step(message) {
  console.log(`[${new Date().toISOString().slice(11, 23)}] ${message}`);
}

function parseArgs(argv) {
  const options = {
    courier: null, url: null, natsPort: null, screenshot: null,
    chromium: process.env.COURIER_CHROMIUM || "/usr/bin/chromium",
    trafficSeconds: 0, width: 1400, height: 1000,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) fail(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--courier": options.courier = value(); break;
      case "--url": options.url = value(); break;
      case "--nats-port": options.natsPort = Number(value()); break;
      case "--screenshot": options.screenshot = value(); break;
      case "--chromium": options.chromium = value(); break;
      case "--traffic-seconds": options.trafficSeconds = Number(value()); break;
      case "--size": [options.width, options.height] = value().split("x").map(Number); break;
      default: fail(`unknown argument ${argv[i]}`);
    }
  }
  if (!options.courier && !(options.url && options.natsPort)) fail("give --courier BINARY, or --url and --nats-port");
  return options;
}

// Missing tools are failures, never skips: this test is the only check of the page.
async function loadPuppeteer(chromium) {
  if (!fs.existsSync(chromium)) {
    fail(`Chromium not found at ${chromium} (apt-get install chromium; tools/install-deps.sh does)`);
  }
  if (!fs.existsSync(path.join(here, "node_modules", "puppeteer-core"))) {
    fail(`${path.join(here, "node_modules")} has no puppeteer-core: run 'npm ci' in tests/browser (tools/test.sh does)`);
  }
  return (await import("puppeteer-core")).default;
}

async function until(what, check, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      if (e instanceof TestFailure) throw e;
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  fail(`timed out after ${timeout / 1000} s waiting for ${what}` + (last ? ` (last: ${last})` : ""));
}

// Waits for a condition inside the page; a timeout says what was awaited
// and what the page showed.
async function inPage(page, what, condition) {
  try {
    await page.waitForFunction(condition, { polling: 250, timeout: WAIT_MS });
  } catch (e) {
    const shown = await page.evaluate(() => `state '${document.getElementById("live")?.textContent}', ` +
      `error banner '${document.getElementById("error")?.textContent}'`).catch((x) => x.message);
    fail(`timed out after ${WAIT_MS / 1000} s waiting for ${what} (${e.message}); the page shows ${shown}`);
  }
}

async function getJson(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// A real Courier on loopback ports it picks itself (-1, nats-server's
// "random port": no other process can take them between a pick and the
// bind), read from its log; up when its log says so and the monitoring port
// answers.
async function startCourier(binary, config) {
  if (!fs.existsSync(binary)) fail(`courier binary not found: ${binary}`);
  const child = spawn(binary, ["-c", config, "-a", "127.0.0.1", "-p", "-1", "-m", "-1"],
    { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => { log += d; });
  child.stderr.on("data", (d) => { log += d; });
  let exited = null;
  child.on("exit", (code, signal) => { exited = signal || code; });
  let natsPort = 0;
  let httpPort = 0;
  try {
    await until("courier to start and answer on its monitoring port", async () => {
      if (exited !== null) fail(`courier exited (${exited}) while starting:\n${log}`);
      if (!log.includes("Server is ready")) return false;
      natsPort = Number(log.match(/Listening for client connections on [^\s]*:(\d+)/)?.[1] ?? 0);
      httpPort = Number(log.match(/Starting http monitor on [^\s]*:(\d+)/)?.[1] ?? 0);
      if (!natsPort || !httpPort) return false;
      await getJson(`http://127.0.0.1:${httpPort}${BASE_PATH}/varz`);
      return true;
    });
  } catch (e) {
    child.kill("SIGKILL");
    console.error("courier's log:\n" + log.slice(-6000));
    throw e;
  }
  return {
    natsPort, url: `http://127.0.0.1:${httpPort}${BASE_PATH}/dashboard`, log: () => log,
    // SIGTERM is a clean shutdown: exit status 0, or a failure (a sanitizer
    // build reports what it found through the status).
    stop: async () => {
      if (exited === null) {
        const done = new Promise((r) => child.on("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        await done;
        clearTimeout(timer);
      }
      return exited;
    },
    exited: () => exited,
  };
}

// The webhook's peer: answers 200, except every fourth request (503), so
// that the service retries and now and then gives up.
async function startWebhookPeer() {
  let requests = 0;
  const server = http.createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      requests++;
      response.writeHead(requests % 4 === 0 ? 503 : 200, { "Content-Type": "text/plain" });
      response.end(requests % 4 === 0 ? "busy" : "ok");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: server.address().port, requests: () => requests, stop: () => server.close() };
}

// The monitoring paths sit under a prefix, so that the page must find the
// endpoints relative to its own address.
const BASE_PATH = "/courier";

// A message service "shop": order events go to the webhook, audits to a file.
function writeConfig(directory, webhookPort) {
  const config = path.join(directory, "courier.conf");
  fs.writeFileSync(config, `
http_base_path: "${BASE_PATH}"
mss {
  prefix: shop
  event_retry { attempts: 2, initial_delay: "50ms", max_delay: "100ms", multiplier: 2 }
  handlers {
    notify_crm { type: webhook, url: "http://127.0.0.1:${webhookPort}/hooks/orders", timeout: "5s" }
    audit_trail { type: audit, file: "${path.join(directory, "audit.jsonl")}" }
  }
  events: [ { event: "order.>", handlers: notify_crm } ]
  audits: [ { event: ">", handlers: audit_trail } ]
}
`);
  return config;
}

// Just enough of the NATS client protocol to publish and subscribe.
class RawClient {
  constructor(port, name) { this.port = port; this.name = name; this.received = 0; this.buffer = ""; }
  connect() {
    return new Promise((resolve, reject) => {
      this.socket = net.createConnection({ host: "127.0.0.1", port: this.port });
      this.socket.setNoDelay(true);
      this.socket.on("error", reject);
      this.socket.on("data", (data) => {
        this.received += data.length;
        this.buffer = (this.buffer + data.toString("latin1")).slice(-4096);
        if (this.buffer.startsWith("INFO ") && !this.connected) {
          this.connected = true;
          this.socket.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, name: this.name, lang: "node-raw", version: "1", protocol: 1 })}\r\nPING\r\n`);
        }
        if (this.connected && !this.ready && this.buffer.includes("PONG\r\n")) { this.ready = true; resolve(this); }
        if (/(^|\n)PING\r\n/.test(this.buffer)) {  // the server's keepalive
          this.socket.write("PONG\r\n");
          this.buffer = "";
        }
        if (this.buffer.includes("-ERR")) reject(new Error(`${this.name}: ${this.buffer.slice(this.buffer.indexOf("-ERR"), this.buffer.indexOf("-ERR") + 120)}`));
      });
    });
  }
  subscribe(subject, sid) { this.socket.write(`SUB ${subject} ${sid}\r\n`); }
  publish(subject, payload, count = 1) {
    const one = `PUB ${subject} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`;
    this.socket.write(one.repeat(count));
  }
  flush() {
    return new Promise((resolve) => {
      this.buffer = "";
      this.socket.write("PING\r\n");
      const check = () => (this.buffer.includes("PONG\r\n") ? resolve() : setTimeout(check, 20));
      check();
    });
  }
  close() { this.socket?.destroy(); }
}

// Traffic shaped like a small application: orders are the busiest subject.
async function startTraffic(natsPort) {
  const orders = await new RawClient(natsPort, "orders-worker").connect();
  orders.subscribe("shop.orders.created", 1);
  orders.subscribe("shop.payments.settled", 2);
  const audit = await new RawClient(natsPort, "audit-trail").connect();
  audit.subscribe("shop.orders.created", 1);
  audit.subscribe("shop.users.>", 2);
  await orders.flush();
  await audit.flush();
  const publisher = await new RawClient(natsPort, "storefront-api").connect();
  let ticks = 0;
  const order = JSON.stringify({ order: 1042, sku: "tea-earl-grey", qty: 2, total_cents: 1380 });
  const timer = setInterval(() => {
    ticks++;
    publisher.publish("shop.orders.created", order, 12 + (ticks % 7));
    publisher.publish("shop.payments.settled", '{"order":1042,"ok":true}', 4);
    if (ticks % 3 === 0) publisher.publish("shop.users.login", '{"user":"ann"}', 2);
    if (ticks % 4 === 0) {  // five a second each, for the message service
      publisher.publish("shop.event.order.created", `{"order":${1000 + ticks},"correlationId":"o-${ticks}"}`);
      publisher.publish("shop.audit.order.paid", `{"order":${1000 + ticks},"by":"storefront"}`);
    }
  }, 50);
  return {
    clients: 3,
    stop: () => { clearInterval(timer); for (const c of [orders, audit, publisher]) c.close(); },
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const puppeteer = await loadPuppeteer(options.chromium);
  let courier = null, browser = null, traffic = null, webhook = null, directory = null;
  try {
    if (options.courier) {
      directory = fs.mkdtempSync(path.join(os.tmpdir(), "courier-dashboard-"));
      webhook = await startWebhookPeer();
      step(`starting ${options.courier} (webhook peer on port ${webhook.port})`);
      courier = await startCourier(options.courier, writeConfig(directory, webhook.port));
      options.url = courier.url;
      options.natsPort = courier.natsPort;
    }
    const varzUrl = new URL("varz", options.url.replace(/\/+$/, "")).toString();
    const metricsUrl = new URL("metrics", varzUrl).toString();
    const baseline = (await getJson(varzUrl)).connections;
    // A server without /metrics (404) must be shown as such; one with it
    // must show the message service's handlers.
    const metricsStatus = (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).status;
    if (metricsStatus !== 200 && metricsStatus !== 404) fail(`GET ${metricsUrl}: HTTP ${metricsStatus}`);
    if (metricsStatus === 404) step(`NOTE: ${metricsUrl} answers 404; the message services panel must say so`);

    step(`launching ${options.chromium}`);
    browser = await puppeteer.launch({
      executablePath: options.chromium,
      headless: true,
      // Root (CI) needs --no-sandbox; /dev/shm may be small in containers.
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"],
      protocolTimeout: 180_000,
      timeout: WAIT_MS,
    });
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.setViewport({ width: options.width, height: options.height, deviceScaleFactor: 1 });

    const problems = [];
    let watching = true;
    const absentMetrics = (url) => metricsStatus === 404 && url === metricsUrl;
    page.on("console", (message) => {
      if (watching && message.type() === "error" && !absentMetrics(message.location()?.url)) {
        problems.push(`console error: ${message.text()} (${message.location()?.url})`);
      }
    });
    page.on("pageerror", (error) => { problems.push(`uncaught exception: ${error.message}`); });
    page.on("requestfailed", (request) => {
      if (watching) problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`);
    });
    page.on("response", (response) => {
      if (watching && response.status() >= 400 && !absentMetrics(response.url())) {
        problems.push(`HTTP ${response.status()} for ${response.url()}`);
      }
    });
    const checkProblems = (when) => {
      if (problems.length) fail(`${when}:\n  ${problems.join("\n  ")}`);
    };

    step(`opening ${options.url}`);
    const response = await page.goto(options.url, { waitUntil: "load", timeout: WAIT_MS });
    if (!response.ok()) fail(`GET ${options.url}: HTTP ${response.status()}`);
    const type = response.headers()["content-type"] || "";
    if (!type.startsWith("text/html")) fail(`GET ${options.url}: Content-Type '${type}', not text/html`);
    await inPage(page, "the page to go live", () => document.getElementById("live")?.dataset.state === "live");
    checkProblems("after loading the page");
    step("page is live");

    traffic = await startTraffic(options.natsPort);
    step(`traffic running (${traffic.clients} clients; ${baseline} connections before)`);

    // The rates move.
    await inPage(page, "message and byte rates above zero", () => Number(document.getElementById("msgs-in-rate").dataset.value) > 0 &&
      Number(document.getElementById("msgs-out-rate").dataset.value) > 0 &&
      Number(document.getElementById("bytes-in-rate").dataset.value) > 0 &&
      Number(document.getElementById("bytes-out-rate").dataset.value) > 0);
    step("message and byte rates above zero");

    // The connection count is the server's.
    const expected = baseline + traffic.clients;
    await until(`the page to show ${expected} connections`, async () => {
      const shown = await page.$eval("#connections", (e) => Number(e.dataset.value));
      const server = (await getJson(varzUrl)).connections;
      return shown === expected && server === expected ? true : `page ${shown}, server ${server}`;
    });
    step(`connection count ${expected}`);

    // The busiest connections and the top subject.
    await until("the test's clients in the connections table", async () => {
      const names = await page.$$eval("#conns-body tr td.name", (cells) => cells.map((c) => c.textContent));
      return ["orders-worker", "audit-trail", "storefront-api"].every((n) => names.includes(n)) || names.join(", ");
    });
    await until("shop.orders.created on top of the subjects", async () => {
      const subjects = await page.$$eval("#subjects-body tr", (rows) => rows.map((r) => r.dataset.subject));
      return subjects[0] === "shop.orders.created" && subjects.includes("shop.payments.settled") || subjects.join(", ");
    });
    await until("the rate chart to draw its two lines", async () => {
      const lines = await page.$$eval("#rate-chart polyline", (all) => all.map((l) => l.getAttribute("points").split(" ").length));
      return lines.length === 2 && lines.every((n) => n >= 3) || JSON.stringify(lines);
    });
    step("top subject shop.orders.created");
    if (metricsStatus === 404) {
      await until("the message services panel to say there are no metrics", async () => {
        const text = await page.$eval("#mss-body", (b) => b.textContent.trim());
        return text.includes("no metrics endpoint") || text;
      });
    } else if (options.courier) {
      // The service's handlers, with messages sent (the peer accepts 3 in 4).
      await until("the handlers notify_crm and audit_trail to show messages sent", async () => {
        const rows = await page.$$eval("#mss-body tr", (all) => all.map((r) => [r.dataset.handler, Number(r.dataset.sent)]));
        const sent = Object.fromEntries(rows);
        return sent.notify_crm > 0 && sent.audit_trail > 0 || JSON.stringify(rows) + `, webhook requests ${webhook.requests()}`;
      });
      step("message service handlers shown with messages sent");
    }
    checkProblems("with traffic");

    // A failing server is shown, and the page recovers once it answers again.
    watching = false;
    await page.setRequestInterception(true);
    let failing = true;
    const refuse = (request) => {
      if (request.isInterceptResolutionHandled()) return;
      if (failing && !request.url().endsWith("/dashboard")) request.abort("connectionrefused");
      else request.continue();
    };
    page.on("request", refuse);
    await inPage(page, "the error state", () => !document.getElementById("error").hidden &&
      document.getElementById("live").dataset.state === "error" &&
      document.getElementById("error").textContent.includes("Cannot reach"));
    step("requests refused: error state shown");
    failing = false;
    await inPage(page, "the page to recover", () => document.getElementById("error").hidden &&
      document.getElementById("live").dataset.state === "live");
    page.off("request", refuse);
    await page.setRequestInterception(false);
    step("requests answered again: recovered");
    problems.length = 0;
    watching = true;

    if (options.trafficSeconds > 0) {
      step(`traffic for ${options.trafficSeconds} s more`);
      await new Promise((r) => setTimeout(r, options.trafficSeconds * 1000));
    } else {
      // Let the rates settle on a few points after the outage.
      const now = await page.$eval("#last-update", (e) => e.textContent);
      await until("two more updates", async () => (await page.$eval("#last-update", (e) => e.textContent)) !== now);
    }
    checkProblems("after recovering");
    if (options.screenshot) {
      fs.mkdirSync(path.dirname(path.resolve(options.screenshot)), { recursive: true });
      await page.screenshot({ path: options.screenshot, fullPage: true });
      step(`screenshot: ${options.screenshot}`);
    }
    if (courier && courier.exited() !== null) fail(`courier exited (${courier.exited()}):\n${courier.log()}`);
  } finally {
    traffic?.stop();
    await browser?.close().catch(() => {});
    webhook?.stop();
    if (courier) {
      const status = await courier.stop();
      if (status !== 0) {
        console.error(`FAIL: courier's exit status after SIGTERM: ${status}`);
        process.exitCode = 1;
      }
      if (process.exitCode) console.error("courier's log:\n" + courier.log().slice(-6000));
    }
    if (directory) fs.rmSync(directory, { recursive: true, force: true });
  }
  if (!process.exitCode) step("dashboard test passed");
}

main().catch((e) => {
  if (!process.exitCode) console.error("FAIL: " + (e.stack || e.message));
  process.exitCode = 1;
});
