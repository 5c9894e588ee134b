// SPDX-License-Identifier: Apache-2.0
//
// The browser tests' harness: a real chatpro-broker with the admin console on,
// its first administrator enrolled through the real `chatpro` CLI with a
// console password, and Debian's chromium (headless, through playwright-core)
// on a fresh profile, with a fake camera and microphone. Meant for every
// browser test file: the console's, and the web chat's, whose brokers have
// the web chat on (runTest(t, body, {webchat: true}); its address is
// env.broker.chatUrl). Other brokers run with the web chat off.
//
//   const {runTest, closeBrowser} = require('./harness');
//   after(closeBrowser);
//   test('...', (t) => runTest(t, async (env) => { ... }));
//
// runTest() gives the test an env = {broker, browser, page, cli(...),
// spawnCli(...), openContext()}; when the test fails it saves a screenshot of
// every open page (of every context) and the broker's log under the failure
// folder (printed), and it always closes the browser and kills and reaps every process it started (each in
// its own process group), also when the test throws.
//
// Environment (set by ctest, tests/CMakeLists.txt):
//   CHATPRO_BROKER_PATH    build/bin/chatpro-broker        (required)
//   CHATPRO_CLI_PATH       build/bin/chatpro               (required)
//   CHATPRO_CHROMIUM       the browser, default /usr/bin/chromium
//   CHATPRO_BROWSER_FAILURES  where screenshots and logs of failed tests go,
//                          default ./browser-failures
//   CHATPRO_KEEP_TEST_DIRS set: keep the temporary folders
'use strict';

const {spawn} = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const kWaitMs = 20000;  // bound of every wait, as in the C++ integration tests
const kAdmin = 'root';
const kAdminPassword = 'correct horse battery staple';

const brokerPath = process.env.CHATPRO_BROKER_PATH || '';
const cliPath = process.env.CHATPRO_CLI_PATH || '';
const chromiumPath = process.env.CHATPRO_CHROMIUM || '/usr/bin/chromium';
const failureDir = path.resolve(process.env.CHATPRO_BROWSER_FAILURES || 'browser-failures');

// Every child started by this module, so that even an exit without cleanup
// (an uncaught error) kills them.
const children = new Set();
process.on('exit', () => {
  for (const child of children) killGroup(child, 'SIGKILL');
});
// Interrupted (Ctrl+C, a runner's stop): the children are in process groups
// of their own, so they would not get the signal; kill them first.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    for (const child of children) killGroup(child, 'SIGKILL');
    process.exit(128 + os.constants.signals[signal]);
  });
}

function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);  // the whole process group
  } catch (e) {
    try {
      child.kill(signal);
    } catch (ignored) {
      // gone already
    }
  }
}

// Starts `argv` in its own process group with output appended to `logFile`.
// Returns the ChildProcess with .exited (a Promise of {code, signal}).
function startProcess(argv, logFile, options = {}) {
  const out = fs.openSync(logFile, 'a');
  fs.writeSync(out, '$ ' + argv.join(' ') + '\n');
  const child = spawn(argv[0], argv.slice(1), {
    detached: true,  // its own process group: killed as a whole
    stdio: [options.input === undefined ? 'ignore' : 'pipe', out, out],
    cwd: options.cwd,
    env: Object.assign({}, process.env, options.env || {}),
  });
  fs.closeSync(out);
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({code, signal});
    });
    child.on('error', (e) => {
      children.delete(child);
      resolve({code: -1, signal: null, error: e});
    });
  });
  if (options.input !== undefined) {
    child.stdin.end(options.input);
  }
  return child;
}

// Kills a child's process group and waits until it is reaped.
async function stopProcess(child, signal = 'SIGKILL') {
  if (!child) return;
  killGroup(child, signal);
  await child.exited;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls `fn` until it returns a truthy value (returned) or kWaitMs pass.
async function waitFor(what, fn, timeoutMs = kWaitMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error('timed out waiting for ' + what);
    await sleep(50);
  }
}

// A loopback TCP port that was free a moment ago.
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      server.close(() => resolve(port));
    });
  });
}

function readFile(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    return '';
  }
}

// What is missing to run browser tests here ('' if nothing).
function missing() {
  if (!brokerPath || !fs.existsSync(brokerPath)) return 'CHATPRO_BROKER_PATH is not a file';
  if (!cliPath || !fs.existsSync(cliPath)) return 'CHATPRO_CLI_PATH is not a file';
  if (!fs.existsSync(chromiumPath)) return chromiumPath + ' is missing (apt-get install chromium)';
  try {
    require.resolve('playwright-core');
  } catch (e) {
    return 'playwright-core is missing (npm ci in tests/browser)';
  }
  return '';
}

// Runs a `chatpro` command to its end: {code, out} (stdout and stderr).
async function runCli(dir, profile, args, input) {
  const log = path.join(dir, 'cli.log');
  const before = readFile(log).length;
  const child = startProcess([cliPath, '--profile', profile, ...args], log, {input: input});
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), kWaitMs);
  const {code, signal} = await child.exited;
  clearTimeout(timer);
  const out = readFile(log).slice(before);
  return {code: code === null ? -1 : code, signal, out};
}

// A running broker with the console on and `root` enrolled (profile
// <dir>/profiles/root) with the console password kAdminPassword. With
// {webchat: true} the web chat is on too, on a free port (chatUrl);
// otherwise it is off, as in the other tests' brokers. {args: [...]} adds
// command-line options (e.g. '--set', 'schedule.office.members=ana').
class Broker {
  constructor(dir, options = {}) {
    this.webchat = !!options.webchat;
    this.extraArgs = options.args || [];
    this.dir = dir;
    this.dataDir = path.join(dir, 'data');
    this.logFile = path.join(dir, 'broker.log');
    this.process = null;
  }

  args() {
    return [
      brokerPath, '--data-dir', this.dataDir, '--listen', 'tcp://127.0.0.1:' + this.port,
      '--set', 'metrics.listen=127.0.0.1:' + this.metricsPort,
      '--set', 'console.enabled=true',
      '--set', 'console.listen=127.0.0.1:' + this.consolePort,
      '--set', 'webchat.enabled=' + this.webchat,
      ...(this.webchat ? ['--set', 'webchat.listen=127.0.0.1:' + this.webchatPort] : []),
      ...this.extraArgs,
    ];
  }

  // The web chat's address (with {webchat: true}).
  get chatUrl() {
    return 'https://127.0.0.1:' + this.webchatPort;
  }

  get url() {
    return 'https://127.0.0.1:' + this.consolePort;
  }

  profile(login) {
    return path.join(this.dir, 'profiles', login);
  }

  log() {
    return readFile(this.logFile);
  }

  async start() {
    let lastError = null;
    for (let attempt = 0; attempt < 3; ++attempt) {
      this.port = await freePort();
      this.metricsPort = await freePort();
      this.consolePort = await freePort();
      this.webchatPort = this.webchat ? await freePort() : 0;
      fs.rmSync(this.dataDir, {recursive: true, force: true});
      const init = startProcess([...this.args(), '--init-admin', kAdmin], this.logFile);
      const {code} = await init.exited;
      const lines = this.log().trim().split('\n');
      const invite = lines[lines.length - 1];
      if (code !== 0 || !invite.startsWith('chatpro://')) {
        throw new Error('chatpro-broker --init-admin failed (' + code + '):\n' + this.log());
      }
      const offset = this.log().length;
      this.process = startProcess(this.args(), this.logFile);
      try {
        await waitFor('the broker to listen', async () => {
          const since = this.log().slice(offset);
          if (this.process.exitCode !== null || this.process.signalCode !== null) {
            throw new Error('chatpro-broker ended before listening:\n' + since);
          }
          return since.includes('listening on') && since.includes('admin console on') &&
              (!this.webchat || since.includes('web chat on'));
        });
      } catch (e) {
        lastError = e;
        await stopProcess(this.process);
        this.process = null;
        if (!/in use/.test(this.log().slice(offset))) throw e;
        continue;  // another process took a port: try new ones
      }
      const enrolled = await runCli(this.dir, this.profile(kAdmin),
          ['enroll', invite, '--name', 'admin-cli']);
      if (enrolled.code !== 0) throw new Error('chatpro enroll failed:\n' + enrolled.out);
      const password = await runCli(this.dir, this.profile(kAdmin),
          ['admin', 'console-password', kAdmin], kAdminPassword + '\n');
      if (password.code !== 0) {
        throw new Error('chatpro admin console-password failed:\n' + password.out);
      }
      return;
    }
    throw lastError;
  }

  async stop() {
    await stopProcess(this.process, 'SIGKILL');
    this.process = null;
  }
}

// A temporary folder for one test.
function tempDir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'chatpro-browser-' + name.replace(/\W+/g, '-') + '-'));
}

async function startBroker(dir, options = {}) {
  const broker = new Broker(dir, options);
  try {
    await broker.start();
  } catch (e) {
    await broker.stop();
    throw e;
  }
  return broker;
}

// Debian's chromium, headless, started once per test file (a start takes
// seconds) on a fresh temporary profile (playwright's own --user-data-dir,
// removed when it closes); each test gets its own context (cookies, storage).
let browserStarted = null;
function sharedBrowser() {
  if (!browserStarted) {
    const {chromium} = require('playwright-core');
    browserStarted = chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // The web chat's voice messages and camera pictures: a fake
        // microphone and camera, allowed without asking.
        '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      ],
      timeout: 2 * kWaitMs,
    });
  }
  return browserStarted;
}

// Closes the shared browser (call from the test file's after() hook).
async function closeBrowser() {
  if (!browserStarted) return;
  const started = browserStarted;
  browserStarted = null;
  const browser = await started.catch(() => null);
  if (browser) await browser.close().catch(() => {});
}

// A new browser context of the shared browser (self-signed certificate accepted).
async function openBrowser() {
  const browser = await sharedBrowser();
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,  // the console's self-signed certificate
    viewport: {width: 1280, height: 800},
  });
  context.setDefaultTimeout(kWaitMs);
  return context;
}

// Runs one test body with a broker, a browser and a page; see the file comment.
// `options` go to the broker ({webchat: true, args: [...]}).
async function runTest(t, body, options = {}) {
  const name = t.name;
  const dir = tempDir(name);
  let broker = null;
  let context = null;
  const contexts = [];  // more browser contexts the test opened (more users)
  const spawned = [];
  const env = {
    dir,
    admin: kAdmin,
    adminPassword: kAdminPassword,
    get broker() {
      return broker;
    },
    page: null,
    context: null,
    // Runs `chatpro --profile <profile of login> ARGS...` to its end.
    cli: (login, args, input) => runCli(dir, broker.profile(login), args, input),
    // Starts `chatpro --profile <profile of login> ARGS...`; output in .logFile.
    spawnCli(login, args) {
      const logFile = path.join(dir, 'cli-' + login + '-' + spawned.length + '.log');
      const child = startProcess([cliPath, '--profile', broker.profile(login), ...args], logFile);
      child.logFile = logFile;
      child.output = () => readFile(logFile);
      spawned.push(child);
      return child;
    },
    waitFor,
    // Another browser context (another user's browser), closed after the
    // test, its pages kept as screenshots when the test fails.
    async openContext() {
      const c = await openBrowser();
      contexts.push(c);
      return c;
    },
    // Signs in as the administrator in the page.
    async signIn(login = kAdmin, password = kAdminPassword) {
      const page = env.page;
      await page.goto(broker.url + '/');
      await page.getByLabel('Login').fill(login);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', {name: 'Sign in'}).click();
    },
  };
  let failed = null;
  try {
    broker = await startBroker(dir, options);
    context = await openBrowser();
    env.context = context;
    env.page = await context.newPage();
    await body(env);
  } catch (e) {
    failed = e;
  }
  if (failed) {
    const base = path.join(failureDir, name.replace(/\W+/g, '_'));
    try {
      fs.mkdirSync(failureDir, {recursive: true});
      const pages = [context, ...contexts].filter(Boolean).flatMap((c) => c.pages());
      for (let i = 0; i < pages.length; ++i) {
        await pages[i].screenshot({path: base + (i ? '-' + i : '') + '.png', fullPage: true})
            .catch(() => {});
      }
      if (broker) fs.writeFileSync(base + '-broker.log', broker.log());
      fs.writeFileSync(base + '-cli.log', readFile(path.join(dir, 'cli.log')) +
          spawned.map((c) => c.output()).join('\n'));
      console.error('browser test "' + name + '" failed; screenshot and logs: ' + base + '*');
    } catch (e) {
      console.error('could not keep the failure evidence: ' + e.message);
    }
  }
  for (const c of [context, ...contexts]) if (c) await c.close().catch(() => {});
  for (const child of spawned) await stopProcess(child);
  if (broker) await broker.stop();
  if (!process.env.CHATPRO_KEEP_TEST_DIRS) fs.rmSync(dir, {recursive: true, force: true});
  if (failed) throw failed;
}

// The text shown in `page` whose contrast with what is behind it is below
// WCAG 2's AA level (4.5:1, or 3:1 for large text: 24 px, or 18.66 px bold),
// as [{text, ratio, color, background}]. Colours are the computed ones, with
// the element's and its ancestors' opacity and any translucent backgrounds
// blended over white; disabled controls are left out, as WCAG does.
async function lowContrastText(page) {
  return page.evaluate(() => {
    const parse = (c) => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return null;
      const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
    };
    const over = (top, bottom) => ({
      r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
      b: top.b * top.a + bottom.b * (1 - top.a), a: 1,
    });
    const luminance = ({r, g, b}) => {
      const f = (c) => {
        c /= 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const backgroundOf = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0) {
          layers.push(c);
          if (c.a >= 1) break;
        }
      }
      let bg = {r: 255, g: 255, b: 255, a: 1};
      for (const layer of layers.reverse()) bg = over(layer, bg);
      return bg;
    };
    const low = [];
    const seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el || seen.has(el)) continue;
      seen.add(el);
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (box.width < 2 || box.height < 2 || style.visibility !== 'visible') continue;
      if (el.closest('button:disabled, input:disabled, select:disabled, [aria-disabled="true"]')) continue;
      let opacity = 1;
      for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
      if (opacity === 0) continue;
      const bg = backgroundOf(el);
      const color = parse(style.color);
      const fg = over(Object.assign({}, color, {a: color.a * opacity}), bg);
      const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
      if (ratio < (large ? 3 : 4.5)) {
        low.push({text: n.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100,
          color: style.color, background: `rgb(${Math.round(bg.r)}, ${Math.round(bg.g)}, ${Math.round(bg.b)})`});
      }
    }
    return low;
  });
}

module.exports = {
  lowContrastText, missing, runTest, startBroker, openBrowser, closeBrowser, startProcess, stopProcess, waitFor, freePort,
  kAdmin, kAdminPassword,
};
