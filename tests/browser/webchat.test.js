// SPDX-License-Identifier: Apache-2.0
//
// The web chat in a real browser (Debian's chromium, headless, with a fake
// camera and microphone) against a real chatpro-broker: enrollment from an
// invite link, two browser users chatting 1:1 and with a CLI user in a group,
// a voice message and a camera picture, a page closed during messages that
// catches up when opened again, and offboarding that cuts off an open page
// and clears what it stored.
'use strict';

const {after, test} = require('node:test');
const assert = require('node:assert/strict');
const https = require('node:https');
const fs = require('node:fs');
const path = require('node:path');
const {closeBrowser, lowContrastText, missing, runTest} = require('./harness');

const skip = missing();
after(closeBrowser);
const it = (name, body, options = {}) =>
  test(name, {skip: skip || false},
      (t) => runTest(t, body, Object.assign({webchat: true}, options)));

// Errors of a page: uncaught exceptions and what the CSP blocked.
function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) {
      errors.push(m.text());
    }
  });
  return errors;
}

// A PCM WAV file (8 kHz, 16 bits, mono) of a 440 Hz tone lasting `ms`.
function wavBeep(ms) {
  const rate = 8000;
  const n = Math.round(rate * ms / 1000);
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + 2 * n, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; ++i) {
    b.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / rate)), 44 + 2 * i);
  }
  return b;
}

// Makes a user with the CLI and returns the chatpro:// invite it prints.
async function addUser(env, login) {
  const r = await env.cli(env.admin, ['admin', 'user', 'add', login]);
  assert.equal(r.code, 0, r.out);
  const lines = r.out.trim().split('\n');
  const invite = lines[lines.length - 1].trim();
  assert.match(invite, /^chatpro:\/\//);
  return invite;
}

// Opens the invite link in `page` and joins; resolves once the chats show.
async function joinInBrowser(env, page, invite) {
  await page.goto(env.broker.chatUrl + '/#invite=' + encodeURIComponent(invite));
  await page.getByRole('heading', {name: 'Join ChatPro'}).waitFor();
  await page.getByLabel('Name of this device').fill('test browser');
  await page.getByRole('button', {name: 'Join'}).click();
  await page.getByRole('heading', {name: 'Chats'}).waitFor();
  // The invite is gone from the address bar.
  assert.equal(new URL(page.url()).hash, '');
}

// A chat in the list, by the name it shows (not its last message).
const chatButton = (page, name) =>
  page.locator('#conversations button', {has: page.locator('.name', {hasText: name})});

async function openChat(page, name) {
  await chatButton(page, name).click();
  await page.locator('#conv-title', {hasText: name}).waitFor();
}

const messageText = (page, text) => page.locator('#messages li p.text', {hasText: text});

function rawGet(port, rawPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = https.request({
      host: '127.0.0.1', port, path: rawPath, method: 'GET', rejectUnauthorized: false, headers,
    }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve({status: response.statusCode, body, headers: response.headers}));
    });
    request.on('error', reject);
    request.end();
  });
}

it('the pages come from the broker with ETags and a strict policy', async (env) => {
  const port = env.broker.webchatPort;
  const index = await rawGet(port, '/');
  assert.equal(index.status, 200);
  assert.match(index.headers['content-type'], /text\/html/);
  assert.match(index.headers['content-security-policy'], /default-src 'none'/);
  assert.match(index.headers['content-security-policy'], /script-src 'self'/);
  assert.ok(index.headers.etag);
  const again = await rawGet(port, '/', {'If-None-Match': index.headers.etag});
  assert.equal(again.status, 304);
  const app = await rawGet(port, '/app.js');
  assert.equal(app.status, 200);
  assert.match(app.headers['content-type'], /javascript/);
  for (const p of ['/../CMakeLists.txt', '/%2e%2e/app.js', '/nothing.js']) {
    assert.equal((await rawGet(port, p)).status, 404, p);
  }
  // Nothing in the pages is fetched from elsewhere.
  assert.doesNotMatch(index.body, /(src|href)="(https?:)?\/\//);
});

it('an administrator hands a web chat link out from the console, and it enrolls a browser',
  async (env) => {
    const consolePage = env.page;
    await env.signIn();
    await consolePage.getByRole('navigation').getByRole('link', {name: 'Users'}).click();
    await consolePage.getByRole('textbox', {name: 'Login', exact: true}).fill('fay');
    await consolePage.getByRole('textbox', {name: 'Display name'}).fill('Fay Brown');
    await consolePage.getByRole('button', {name: 'Add user'}).click();
    const link = consolePage.locator('#invite-web-link');
    await link.waitFor();
    const url = (await link.textContent()).trim();
    assert.match(url, new RegExp('^' + env.broker.chatUrl + '/#invite=[0-9A-Z]{16,}$'));

    const fay = await (await env.openContext()).newPage();
    const started = Date.now();
    await fay.goto(url);
    await fay.getByRole('heading', {name: 'Join ChatPro'}).waitFor();
    assert.deepEqual(await lowContrastText(fay), [], 'the join page');
    await fay.getByRole('button', {name: 'Join'}).click();
    await fay.getByRole('heading', {name: 'Chats'}).waitFor();
    await fay.locator('#me', {hasText: 'Fay Brown (fay)'}).waitFor();
    const took = Date.now() - started;
    console.log('joined from the web chat link in ' + took + ' ms');
    assert.ok(took < 60000, 'enrolled in under a minute');
    const r = await env.cli(env.admin, ['send', '--to', 'fay', '--text', 'welcome, Fay']);
    assert.equal(r.code, 0, r.out);
    await openChat(fay, 'root');
    await messageText(fay, 'welcome, Fay').waitFor();
  });

it('two browser users chat 1:1 and with a CLI user in a group, with voice and pictures',
  async (env) => {
    const anaInvite = await addUser(env, 'ana');
    const benInvite = await addUser(env, 'ben');
    const cyInvite = await addUser(env, 'cy');
    const enrolled = await env.cli('cy', ['enroll', cyInvite, '--name', 'cy-cli']);
    assert.equal(enrolled.code, 0, enrolled.out);

    const ana = env.page;
    const errors = watchErrors(ana);
    await joinInBrowser(env, ana, anaInvite);
    const benContext = await env.openContext();
    {
      let ben = await benContext.newPage();
      watchErrors(ben).forEach((e) => errors.push(e));
      await joinInBrowser(env, ben, benInvite);
      // The device key is a non-extractable Ed25519 CryptoKey in IndexedDB.
      const key = await ben.evaluate(() => new Promise((resolve) => {
        const r = indexedDB.open('chatpro');
        r.onsuccess = () => {
          const g = r.result.transaction('kv').objectStore('kv').get('device');
          g.onsuccess = () => {
            const k = g.result.privateKey;
            resolve({type: k.constructor.name, alg: k.algorithm.name, extractable: k.extractable});
            r.result.close();
          };
        };
      }));
      assert.deepEqual(key, {type: 'CryptoKey', alg: 'Ed25519', extractable: false});

      // 1:1: ana starts the chat, ben sees it with an unread count.
      await ana.getByText('New chat').click();
      await ana.getByLabel('Login of the person').fill('ben');
      await ana.getByRole('button', {name: 'Start chat'}).click();
      await ana.locator('#conv-title', {hasText: 'ben'}).waitFor();
      await ana.getByLabel('Message', {exact: true}).fill('hello ben');
      await ana.getByRole('button', {name: 'Send', exact: true}).click();
      await ana.locator('#messages li.mine .meta', {hasText: 'Sent'}).waitFor();
      await ben.locator('#conversations .badge', {hasText: '1'}).waitFor();
      await openChat(ben, 'ana');
      await messageText(ben, 'hello ben').waitFor();
      await ben.locator('#conversations .badge').waitFor({state: 'detached'});
      // Keyboard: Enter sends.
      await ben.getByLabel('Message', {exact: true}).fill('hi ana');
      await ben.getByLabel('Message', {exact: true}).press('Enter');
      await messageText(ana, 'hi ana').waitFor();

      // ana corrects a message, then deletes it for everyone.
      await ana.getByLabel('Message', {exact: true}).fill('see you at 9');
      await ana.getByLabel('Message', {exact: true}).press('Enter');
      await messageText(ben, 'see you at 9').waitFor();
      await ana.getByRole('button', {name: 'Edit or delete your message see you at 9'}).click();
      await ana.getByLabel('New text').fill('see you at 10');
      await ana.getByRole('button', {name: 'Save the change'}).click();
      await messageText(ben, 'see you at 10 (edited)').waitFor();
      await messageText(ana, 'see you at 10 (edited)').waitFor();
      await ana.getByRole('button', {name: 'Edit or delete your message see you at 10'}).click();
      await ana.getByRole('button', {name: 'Delete for everyone'}).click();
      for (const page of [ana, ben]) {
        await page.locator('#messages li p.deleted', {hasText: 'This message was deleted'}).waitFor();
        await messageText(page, 'see you at 10').waitFor({state: 'detached'});
      }
      // ben cannot change ana's messages, but can report one to the organisation.
      assert.equal(await ben.locator('#messages li.theirs button.change', {hasText: 'Edit'}).count(), 0);
      await ben.getByRole('button', {name: 'Report the message from ana: hello ben'}).click();
      await ben.getByRole('button', {name: 'Report it'}).click();
      await ben.getByRole('alert').filter({hasText: 'Say why'}).waitFor();
      await ben.getByLabel('Why are you reporting it?').fill('not a work matter');
      await ben.getByRole('button', {name: 'Report it'}).click();
      await ben.locator('#status', {hasText: 'Reported.'}).waitFor();
      const reports = await env.cli(env.admin, ['admin', 'reports']);
      assert.equal(reports.code, 0, reports.out);
      assert.match(reports.out, /not a work matter/);
      assert.match(reports.out, /hello ben/);

      // A message the broker refuses stays on screen as not sent.
      await ben.getByLabel('Message', {exact: true}).fill('x'.repeat(70 * 1024));
      await ben.getByLabel('Message', {exact: true}).press('Enter');
      await ben.locator('#messages li.mine .meta', {hasText: 'Not sent:'}).waitFor();

      // A voice message from ben's (fake) microphone.
      await ben.getByRole('button', {name: 'Record voice'}).click();
      await ben.getByRole('button', {name: 'Stop and send'}).waitFor();
      await ben.waitForTimeout(1500);
      await ben.getByRole('button', {name: 'Stop and send'}).click();
      const audio = ana.locator('#messages li.theirs audio');
      await audio.waitFor();
      await env.waitFor('the voice message to load', () =>
        audio.evaluate((a) => a.readyState >= 1 && a.error === null));

      await audio.evaluate((a) => { a.dataset.mark = 'kept'; });

      // A picture from ana's (fake) camera.
      await ana.getByRole('button', {name: 'Camera'}).click();
      await ana.getByRole('button', {name: 'Take picture and send'}).click();
      const img = ben.locator('#messages li.theirs img');
      await img.waitFor();
      await env.waitFor('the picture to show', () =>
        img.evaluate((i) => i.complete && i.naturalWidth > 0));
      assert.equal(await img.getAttribute('alt'), 'Picture from ana');
      // New messages leave the voice message's player where it was (a
      // player being listened to is not stopped).
      await ana.locator('#messages li.mine img').waitFor();
      await ana.locator('#messages li.mine .meta', {hasText: 'Sent'}).last().waitFor();
      assert.equal(await audio.getAttribute('data-mark'), 'kept');

      // A group made by the CLI user; its messages reach both browsers.
      const group = await env.cli('cy', ['group', 'create', 'team', '--member', 'ana',
        '--member', 'ben']);
      assert.equal(group.code, 0, group.out);
      const sent = await env.cli('cy', ['send', '--group', 'team', '--text', 'hi team']);
      assert.equal(sent.code, 0, sent.out);
      for (const page of [ana, ben]) {
        await openChat(page, 'team');
        await messageText(page, 'hi team').waitFor();
      }
      await ana.getByLabel('Message', {exact: true}).fill('hello cy');
      await ana.getByRole('button', {name: 'Send', exact: true}).click();
      await messageText(ben, 'hello cy').waitFor();
      await env.waitFor('the CLI to read the browser\'s message', async () => {
        const h = await env.cli('cy', ['history', '--group', 'team']);
        return h.code === 0 && /ana: hello cy/.test(h.out);
      });
      // A voice message from a browser reaches the CLI under a codec it knows.
      await ben.getByRole('button', {name: 'Record voice'}).click();
      await ben.waitForTimeout(1000);
      await ben.getByRole('button', {name: 'Stop and send'}).click();
      await ana.locator('#messages li.theirs audio').waitFor();
      const saved = path.join(env.dir, 'cy-media');
      const h = await env.cli('cy', ['history', '--group', 'team', '--save-dir', saved]);
      assert.match(h.out, /ben: \[voice [0-9.]+ s webm, saved to \S+\.webm\]/, h.out);

      // And the other way: a picture and a voice message from the CLI.
      const png = path.join(env.dir, 'dot.png');
      fs.writeFileSync(png, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlE' +
          'QVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'));
      const wav = path.join(env.dir, 'beep.wav');
      fs.writeFileSync(wav, wavBeep(500));
      for (const args of [['--picture', png], ['--voice', wav]]) {
        const r = await env.cli('cy', ['send', '--group', 'team', ...args]);
        assert.equal(r.code, 0, r.out);
      }
      const cliPicture = ben.locator('#messages li.theirs', {hasText: 'cy'}).locator('img');
      await cliPicture.waitFor();
      await env.waitFor('the CLI picture to show', () =>
        cliPicture.evaluate((i) => i.complete && i.naturalWidth === 1));
      const cliVoice = ben.locator('#messages li.theirs', {hasText: 'cy'}).locator('audio');
      await cliVoice.waitFor();
      await env.waitFor('the CLI voice message to load', () =>
        cliVoice.evaluate((a) => a.readyState >= 1 && a.error === null && a.duration > 0.4));

      // ben closes the page; what comes meanwhile arrives in order on return.
      await ben.close();
      // Closing the page said Goodbye: ana sees ben offline at once.
      await openChat(ana, 'ben');
      await ana.locator('#conv-presence', {hasText: 'offline'}).waitFor({timeout: 5000});
      await openChat(ana, 'team');
      for (let i = 1; i <= 3; ++i) {
        const r = await env.cli('cy', ['send', '--group', 'team', '--text', 'missed ' + i]);
        assert.equal(r.code, 0, r.out);
      }
      await ana.getByLabel('Message', {exact: true}).fill('missed 4');
      await ana.getByRole('button', {name: 'Send', exact: true}).click();
      await messageText(ana, 'missed 4').waitFor();
      ben = await benContext.newPage();
      await ben.goto(env.broker.chatUrl + '/');
      await chatButton(ben, 'team').locator('.badge', {hasText: '4'}).waitFor();
      await openChat(ben, 'team');
      await messageText(ben, 'missed 4').waitFor();
      const texts = await ben.locator('#messages li p.text').allTextContents();
      const missed = texts.filter((t) => t.startsWith('missed'));
      assert.deepEqual(missed, ['missed 1', 'missed 2', 'missed 3', 'missed 4']);
      // The 1:1 chat with its voice message and picture is still there.
      await openChat(ben, 'ana');
      await messageText(ben, 'hello ben').waitFor();
      await ben.locator('#messages li.theirs img').waitFor();
      // Every text on screen is readable (WCAG AA), also in the dialogs.
      assert.deepEqual(await lowContrastText(ben), [], 'the chats');
      await ben.getByRole('button', {name: /^Edit or delete your message/}).first().click();
      assert.deepEqual(await lowContrastText(ben), [], 'the message dialog');
      await ben.getByRole('button', {name: 'Cancel'}).click();
      assert.deepEqual(errors, []);
    }
  });

it('a browser joined with a typed invite code scrolls back through the history', async (env) => {
  const invite = await addUser(env, 'ana');
  const r = await env.cli(env.admin, ['group', 'create', 'old', '--member', 'ana']);
  assert.equal(r.code, 0, r.out);
  for (let i = 1; i <= 45; ++i) {
    const s = await env.cli(env.admin, ['send', '--group', 'old', '--text', 'old ' + i]);
    assert.equal(s.code, 0, s.out);
  }
  // This time the user opens the web chat and types the code in by hand.
  const page = env.page;
  await page.goto(env.broker.chatUrl + '/');
  await page.getByLabel('Invite code or link').fill('not an invite');
  await page.getByRole('button', {name: 'Continue'}).click();
  await page.getByText('This is not an invite').waitFor();
  const code = /code=([^&]+)/.exec(invite)[1];
  await page.getByLabel('Invite code or link').fill(code.toLowerCase().replace(/(.{4})/g, '$1-'));
  await page.getByRole('button', {name: 'Continue'}).click();
  await page.getByRole('button', {name: 'Join'}).click();
  await page.getByRole('heading', {name: 'Chats'}).waitFor();
  await openChat(page, 'old');
  await messageText(page, 'old 45').waitFor();
  // Scrolling to the top (or the button) loads earlier pages until the first.
  const older = page.getByRole('button', {name: 'Load earlier messages'});
  for (let i = 0; i < 5 && await messageText(page, /^old 1$/).count() === 0; ++i) {
    await page.locator('#scroller').evaluate((s) => { s.scrollTop = 0; });
    if (await older.isVisible()) await older.click();
    await page.waitForTimeout(300);
  }
  await messageText(page, /^old 1$/).waitFor();
  const texts = await page.locator('#messages li p.text').allTextContents();
  assert.deepEqual(texts, Array.from({length: 45}, (_, i) => 'old ' + (i + 1)));
  await older.waitFor({state: 'hidden'});
});

// Working hours as HH:MM-HH:MM in UTC that do not include the present.
function hoursNotNow() {
  const now = new Date();
  let from = (now.getUTCHours() * 60 + now.getUTCMinutes() + 180) % 1440;
  from -= from % 5;
  if (from > 1370) from = 0;  // an hour that ends before midnight (<input type=time>)
  const hhmm = (n) => String(Math.floor(n / 60)).padStart(2, '0') + ':' + String(n % 60).padStart(2, '0');
  return [hhmm(from), hhmm(from + 60)];
}

it('the timer: the user sets working hours, is quiet off duty, and senders see it', async (env) => {
  const invite = await addUser(env, 'ana');
  const benInvite = await addUser(env, 'ben');
  const enrolled = await env.cli('ben', ['enroll', benInvite, '--name', 'ben-cli']);
  assert.equal(enrolled.code, 0, enrolled.out);
  const [from, to] = hoursNotNow();
  const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const set = await env.cli('ben', ['schedule', 'set',
    ...days.flatMap((d) => ['--' + d, from + '-' + to])]);
  assert.equal(set.code, 0, set.out);

  const page = env.page;
  await joinInBrowser(env, page, invite);
  // `from` (UTC) as the page shows times: in the browser's zone and locale.
  const shown = await page.evaluate((hhmm) => {
    const d = new Date();
    d.setUTCHours(Number(hhmm.slice(0, 2)), Number(hhmm.slice(3)), 0, 0);
    return d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
  }, from);
  // ana is on duty: no banner.
  await page.getByRole('button', {name: 'Working hours'}).click();
  await page.locator('#hours-state', {hasText: 'You are on duty'}).waitFor();
  assert.ok(await page.locator('#duty').isHidden());
  assert.deepEqual(await lowContrastText(page), [], 'the working-hours dialog');
  await page.getByRole('button', {name: 'Close'}).click();

  // A sender sees that ben is off duty, and until when.
  await page.getByText('New chat').click();
  await page.getByLabel('Login of the person').fill('ben');
  await page.getByRole('button', {name: 'Start chat'}).click();
  await page.locator('#conv-presence', {hasText: 'ben: off duty until ' + shown}).waitFor();
  await page.getByLabel('Message', {exact: true}).fill('are you there?');
  await page.getByRole('button', {name: 'Send', exact: true}).click();
  await page.locator('#messages li.mine .offduty',
      {hasText: 'ben is off duty until ' + shown}).waitFor();

  // ana sets her own hours so that now is off duty: the page says it is quiet.
  await page.getByRole('button', {name: 'Working hours'}).click();
  const dialog = page.getByRole('dialog', {name: 'Your working hours'});
  for (const day of ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday',
    'Sunday']) {
    await dialog.getByLabel(day, {exact: true}).check();
    await dialog.getByLabel(day + ' from').fill(from);
    await dialog.getByLabel(day + ' until').fill(to);
  }
  await dialog.getByRole('button', {name: 'Save'}).click();
  await dialog.waitFor({state: 'hidden'});
  await page.locator('#duty', {hasText: 'You are off duty until ' + shown}).waitFor();
  await page.locator('#duty', {hasText: 'no notifications'}).waitFor();
  assert.deepEqual(await lowContrastText(page), [], 'off duty, with a sender told');
  const show = await env.cli(env.admin, ['schedule', 'show', '--user', 'ana']);
  assert.match(show.out, /off duty/);
  // The CLI sender is told too.
  const sent = await env.cli('ben', ['send', '--to', 'ana', '--text', 'later']);
  assert.equal(sent.code, 0, sent.out);
  assert.match(sent.out, /ana is off duty until/);
}, {args: [
  '--set', 'schedule.office.time_zone=Etc/UTC',
  '--set', 'schedule.office.members=ana, ben',
  '--set', 'schedule.office.may_change=week, time_zone',
  ...['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].flatMap((d) =>
    ['--set', 'schedule.office.' + d + '=00:00-24:00']),
]});

it('blocking in a direct chat stops direct messages both ways until unblocked', async (env) => {
  const invite = await addUser(env, 'gus');
  const halInvite = await addUser(env, 'hal');
  const enrolled = await env.cli('hal', ['enroll', halInvite, '--name', 'hal-cli']);
  assert.equal(enrolled.code, 0, enrolled.out);
  const page = env.page;
  await joinInBrowser(env, page, invite);
  const first = await env.cli('hal', ['send', '--to', 'gus', '--text', 'buy my crypto']);
  assert.equal(first.code, 0, first.out);
  await openChat(page, 'hal');
  await messageText(page, 'buy my crypto').waitFor();

  await page.getByRole('button', {name: 'Block hal'}).click();
  await page.locator('#status', {hasText: 'You blocked hal'}).waitFor();
  const refused = await env.cli('hal', ['send', '--to', 'gus', '--text', 'hello?']);
  assert.notEqual(refused.code, 0, refused.out);
  assert.match(refused.out, /gus does not accept messages from you/);
  await page.getByLabel('Message', {exact: true}).fill('stop it');
  await page.getByRole('button', {name: 'Send', exact: true}).click();
  await page.locator('#messages li.mine .meta', {hasText: 'Not sent: you blocked hal'}).waitFor();

  // The block is the broker's: a reloaded page knows it.
  await page.reload();
  await openChat(page, 'hal');
  await page.getByRole('button', {name: 'Unblock hal'}).click();
  await page.locator('#status', {hasText: 'You unblocked hal'}).waitFor();
  const again = await env.cli('hal', ['send', '--to', 'gus', '--text', 'sorry']);
  assert.equal(again.code, 0, again.out);
  await messageText(page, 'sorry').waitFor();
});

it('offboarding cuts off an open page and clears what it stored', async (env) => {
  const invite = await addUser(env, 'dee');
  const page = env.page;
  await joinInBrowser(env, page, invite);
  // A second browser of dee's, closed while she is offboarded.
  const second = await env.cli(env.admin, ['invite', 'dee']);
  assert.equal(second.code, 0, second.out);
  const otherContext = await env.openContext();
  let other = await otherContext.newPage();
  await joinInBrowser(env, other, second.out.trim().split('\n').pop().trim());
  await other.close();
  await page.getByText('New chat').click();
  await page.getByLabel('Login of the person').fill('root');
  await page.getByRole('button', {name: 'Start chat'}).click();
  await page.getByLabel('Message', {exact: true}).fill('my last words');
  await page.getByRole('button', {name: 'Send', exact: true}).click();
  await page.locator('#messages li.mine .meta', {hasText: 'Sent'}).waitFor();

  const started = Date.now();
  const r = await env.cli(env.admin, ['admin', 'user', 'deactivate', 'dee']);
  assert.equal(r.code, 0, r.out);
  await page.getByRole('heading', {name: 'This device was signed out'}).waitFor();
  const took = Date.now() - started;
  console.log('the open page was signed out ' + took + ' ms after `chatpro admin user deactivate` started');
  assert.ok(took < 5000, 'cut off within seconds');
  assert.equal(await page.locator('#messages li').count(), 0);
  assert.doesNotMatch(await page.locator('body').innerText(), /my last words/);
  const dbs = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
  assert.ok(!dbs.includes('chatpro'), 'the stored messages are gone: ' + dbs.join(','));
  // Opened again, the page knows no device any more.
  await page.goto(env.broker.chatUrl + '/');
  await page.getByRole('heading', {name: 'ChatPro', exact: true}).waitFor();
  await page.getByText('open the invite link').waitFor();

  // The closed one is refused when opened again, and wipes itself then.
  other = await otherContext.newPage();
  await other.goto(env.broker.chatUrl + '/');
  await other.getByRole('heading', {name: 'This device was signed out'}).waitFor();
  const left = await other.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
  assert.ok(!left.includes('chatpro'), 'the closed page\'s storage is gone: ' + left.join(','));
});
