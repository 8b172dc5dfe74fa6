// One nats.ws client for a test on the other side (tests/clients/
// websocket_test.cpp drives it): JSON commands on stdin, JSON events on
// stdout, one per line (see ws_driver.js). In Node by default; with
// --chromium PATH, in a page of a real headless Chromium that this script
// serves over HTTP, which loads nats.ws as a browser module.
//
//   node ws_peer.mjs
//   node ws_peer.mjs --library nats-core     (@nats-io/nats-core's wsconnect)
//   node ws_peer.mjs --chromium /usr/bin/chromium
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import readline from "node:readline";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const fail = (message) => {
  emit({ ev: "fatal", message });
  process.exit(2);
};

for (const module of ["nats.ws", "ws", "@nats-io/nats-core"]) {
  if (!fs.existsSync(path.join(here, "node_modules", module))) {
    fail(`tests/browser/node_modules has no ${module}: run 'npm ci' in tests/browser`);
  }
}
const { makeDriver } = require("./ws_driver.js");
const chromiumIndex = process.argv.indexOf("--chromium");
// Created once the driver is ready: lines read earlier would be lost.
let lines;

if (chromiumIndex < 0) {
  const { WebSocket } = await import("ws");
  globalThis.WebSocket = WebSocket;
  // --library nats-core: the newer @nats-io/nats-core (its wsconnect), which
  // has no StringCodec (strings are passed as they are); else nats.ws.
  let nats;
  if (process.argv.includes("--library") && process.argv[process.argv.indexOf("--library") + 1] === "nats-core") {
    const core = await import("@nats-io/nats-core");
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    nats = {
      connect: core.wsconnect,
      headers: core.headers,
      StringCodec: () => ({ encode: (text) => encoder.encode(text), decode: (bytes) => decoder.decode(bytes) }),
    };
  } else {
    nats = await import("nats.ws");
  }
  const run = makeDriver(nats, emit);
  lines = readline.createInterface({ input: process.stdin });
  lines.on("line", (line) => line.trim() && run(JSON.parse(line)));
  lines.on("close", () => setTimeout(() => process.exit(0), 200));
} else {
  const chromium = process.argv[chromiumIndex + 1];
  if (!fs.existsSync(path.join(here, "node_modules", "puppeteer-core"))) {
    fail("tests/browser/node_modules has no puppeteer-core: run 'npm ci' in tests/browser");
  }
  // The page: nats.ws as a module, the driver, events back through a binding.
  const files = {
    "/": ["text/html", `<!doctype html><meta charset="utf-8"><title>nats.ws peer</title>
<script src="/ws_driver.js"></script>
<script type="module">
import * as nats from "/nats.js";
window.run = makeDriver(nats, (event) => window.reportEvent(JSON.stringify(event)));
window.peerReady = true;
</script>`],
    "/favicon.ico": ["image/x-icon", ""],
    "/ws_driver.js": ["text/javascript", fs.readFileSync(path.join(here, "ws_driver.js"))],
    "/nats.js": ["text/javascript", fs.readFileSync(path.join(here, "node_modules/nats.ws/esm/nats.js"))],
  };
  const server = http.createServer((request, response) => {
    const file = files[new URL(request.url, "http://x").pathname];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": file[0] }).end(file[1]);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const puppeteer = (await import("puppeteer-core")).default;
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"],
    protocolTimeout: 180_000,
    timeout: 120_000,
  });
  const page = await browser.newPage();
  page.on("pageerror", (error) => emit({ ev: "page_error", message: error.message }));
  page.on("console", (message) => {
    if (message.type() === "error") emit({ ev: "page_console_error", message: message.text() });
  });
  await page.exposeFunction("reportEvent", (text) => process.stdout.write(text + "\n"));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction("window.peerReady === true", { timeout: 120_000 });
  emit({ ev: "browser", userAgent: await page.evaluate(() => navigator.userAgent) });
  let queue = Promise.resolve();
  lines = readline.createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (!line.trim()) return;
    queue = queue.then(() => page.evaluate((command) => window.run(JSON.parse(command)), line));
  });
  lines.on("close", async () => {
    await queue.catch(() => {});
    await browser.close().catch(() => {});
    server.close();
    process.exit(0);
  });
}
emit({ ev: "ready" });
