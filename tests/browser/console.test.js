// SPDX-License-Identifier: Apache-2.0
//
// The web admin console in a real browser (Debian's chromium, headless)
// against a real chatpro-broker: signing in, refusals, CSRF, offboarding a
// user whose CLI is listening, hostile text shown as text, and path tricks.
'use strict';

const {after, test} = require('node:test');
const assert = require('node:assert/strict');
const https = require('node:https');
const {closeBrowser, lowContrastText, missing, runTest} = require('./harness');

const skip = missing();
after(closeBrowser);
const it = (name, body) => test(name, {skip: skip || false}, (t) => runTest(t, body));

const kHostile = '<img src=x onerror=window.pwned=1>';

// Adds a user in the users page and returns the invite code it shows.
async function addUserInPage(page, login, displayName) {
  // By role: the hidden sign-in form has a "Login" field too.
  await page.getByRole('textbox', {name: 'Login', exact: true}).fill(login);
  await page.getByRole('textbox', {name: 'Display name'}).fill(displayName);
  await page.getByRole('button', {name: 'Add user'}).click();
  const code = page.locator('#invite-code');
  await code.waitFor();
  return (await code.textContent()).trim();
}

// GET of a raw path (no URL normalisation) trusting the self-signed certificate.
function rawGet(port, rawPath) {
  return new Promise((resolve, reject) => {
    const request = https.request({
      host: '127.0.0.1', port: port, path: rawPath, method: 'GET', rejectUnauthorized: false,
    }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve({status: response.statusCode, body: body,
        type: response.headers['content-type'] || ''}));
    });
    request.on('error', reject);
    request.end();
  });
}

it('an administrator signs in and sees the live dashboard', async ({page, signIn}) => {
  await signIn();
  await page.getByRole('heading', {name: 'Dashboard'}).waitFor();
  await page.locator('#who').filter({hasText: /\(root\), admin$/}).waitFor();
  // The counters come in, and the second poll turns the rates into numbers.
  await page.locator('#dash-devices').filter({hasText: /^\d+$/}).waitFor();
  await page.locator('#dash-accepted').filter({hasText: /\/s$/}).waitFor();
  for (const name of ['Users', 'Audit log', 'Status']) {
    await page.getByRole('navigation').getByRole('link', {name}).waitFor();
  }
  await page.getByRole('navigation').getByRole('link', {name: 'Status'}).click();
  await page.locator('#status-version').waitFor();
  assert.match(await page.locator('#status-version').textContent(), /\S/);
  await page.getByRole('cell', {name: 'console.listen'}).waitFor();
  await page.getByRole('button', {name: 'Sign out'}).click();
  await page.getByRole('heading', {name: 'Sign in'}).waitFor();
});

it('the text of every page has enough contrast (WCAG AA)', async (env) => {
  const {page} = env;
  await page.goto(env.broker.url + '/');
  await page.getByRole('heading', {name: 'Sign in'}).waitFor();
  assert.deepEqual(await lowContrastText(page), [], 'the sign-in page');
  await env.signIn();
  await page.getByRole('navigation').getByRole('link', {name: 'Users'}).click();
  await addUserInPage(page, 'cara', 'Cara Contrast');
  assert.deepEqual(await lowContrastText(page), [], 'the users page with an invite');
  for (const title of ['Dashboard', 'Groups', 'Retention', 'Legal holds', 'Exports',
    'Working hours', 'Audit log', 'Status']) {
    await page.getByRole('navigation').getByRole('link', {name: title, exact: true}).click();
    await page.getByRole('heading', {name: title, exact: true}).first().waitFor();
    await page.waitForTimeout(300);  // what the page fetches is shown
    assert.deepEqual(await lowContrastText(page), [], 'the page ' + title);
  }
});

it('a wrong password is refused with the message shown', async ({page, broker}) => {
  await page.goto(broker.url + '/');
  await page.getByLabel('Login').fill('root');
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', {name: 'Sign in'}).click();
  const alert = page.getByRole('alert');
  await alert.filter({hasText: 'wrong login or password'}).waitFor();
  assert.equal(await page.locator('#sign-in').isVisible(), true);
  assert.equal(await page.getByRole('navigation').isVisible(), false);
});

it('a change with a forged CSRF token is refused and changes nothing', async ({page, signIn}) => {
  await signIn();
  await page.getByRole('heading', {name: 'Dashboard'}).waitFor();
  const forged = await page.evaluate(async () => {
    const r = await fetch('/api/v1/users', {
      method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': 'forged-token'},
      body: JSON.stringify({login: 'mallory', display_name: 'Mallory', role: 'admin'}),
    });
    return {status: r.status, body: await r.json()};
  });
  assert.equal(forged.status, 403);
  assert.equal(forged.body.error.code, 'permission_denied');
  const users = await page.evaluate(async () => (await fetch('/api/v1/users')).json());
  assert.deepEqual(users.users.map((u) => u.login), ['root']);
});

it('offboarding in the page cuts off the user\'s listening CLI', async (env) => {
  const {page} = env;
  await env.signIn();
  await page.getByRole('navigation').getByRole('link', {name: 'Users'}).click();
  const code = await addUserInPage(page, 'dora', 'Dora Leaver');
  assert.match(code, /^chatpro:\/\//);

  const enrolled = await env.cli('dora', ['enroll', code, '--name', 'dora-laptop']);
  assert.equal(enrolled.code, 0, enrolled.out);
  const listener = env.spawnCli('dora', ['listen']);
  // Connected: the page's device list says online.
  await env.waitFor('dora\'s CLI to connect', () => page.evaluate(async () => {
    const r = await (await fetch('/api/v1/users/dora/devices')).json();
    return r.devices.some((d) => d.online);
  }));
  await page.getByRole('button', {name: 'Devices of dora'}).click();
  await page.getByRole('cell', {name: 'dora-laptop'}).waitFor();
  await page.getByRole('cell', {name: 'online'}).waitFor();

  // Escape cancels the confirmation: nothing happens.
  await page.getByRole('button', {name: 'Offboard dora'}).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText('Offboard Dora Leaver (dora)?').waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({state: 'detached'});
  const still = await page.evaluate(async () => (await fetch('/api/v1/users')).json());
  assert.equal(still.users.find((u) => u.login === 'dora').active, true);
  assert.equal(listener.exitCode, null, 'the CLI still listens');

  // With the keyboard: Cancel has the focus, Tab goes to Offboard, Enter confirms.
  await page.getByRole('button', {name: 'Offboard dora'}).click();
  await dialog.getByText('Offboard Dora Leaver (dora)?').waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Offboard');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({hasText: 'dora is offboarded'}).waitFor();

  const ended = await Promise.race([
    listener.exited,
    new Promise((resolve) => setTimeout(() => resolve(null), 10000)),
  ]);
  assert.notEqual(ended, null, 'the CLI is still running:\n' + listener.output());
  assert.equal(ended.code, 4, listener.output());
  assert.match(listener.output(), /revoked by your organisation/);
  await page.getByRole('cell', {name: 'deactivated'}).waitFor();

  // The first code is void now and no longer shown; reactivating shows a new one.
  assert.equal(await page.locator('#invite-code').count(), 0);
  await page.getByRole('button', {name: 'Reactivate dora'}).click();
  await page.getByRole('heading', {name: 'Invite code for dora'}).waitFor();
  const second = (await page.locator('#invite-code').textContent()).trim();
  assert.match(second, /^chatpro:\/\//);
  assert.notEqual(second, code);
});

it('script in a display name, a device name and a message is shown as text', async (env) => {
  const {page} = env;
  await env.signIn();
  await page.getByRole('navigation').getByRole('link', {name: 'Users'}).click();
  const code = await addUserInPage(page, 'eve', kHostile);
  const enrolled = await env.cli('eve', ['enroll', code, '--name', '<script>window.pwned=2</script>']);
  assert.equal(enrolled.code, 0, enrolled.out);
  const sent = await env.cli('root', ['send', '--to', 'eve', '--text', kHostile]);
  assert.equal(sent.code, 0, sent.out);

  await page.getByRole('cell', {name: kHostile, exact: true}).waitFor();
  await page.getByRole('button', {name: 'Devices of eve'}).click();
  await page.getByRole('cell', {name: '<script>window.pwned=2</script>', exact: true}).waitFor();
  await page.getByRole('navigation').getByRole('link', {name: 'Audit log'}).click();
  await page.getByText(kHostile).first().waitFor();
  await page.getByRole('navigation').getByRole('link', {name: 'Dashboard'}).click();
  await page.locator('#dash-devices').waitFor();
  for (const p of ['status', 'users', 'audit']) {
    await page.goto(env.broker.url + '/#/' + p);
    await page.getByRole('navigation').waitFor();
    await page.locator('table.data').first().waitFor();
  }
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.equal(await page.locator('main img, main script').count(), 0);
});

it('an auditor sees the pages without change controls and cannot change anything', async (env) => {
  const {page} = env;
  const added = await env.cli('root', ['admin', 'user', 'add', 'audrey', '--display-name', 'Audrey',
    '--role', 'auditor']);
  assert.equal(added.code, 0, added.out);
  const password = 'audrey reads the log';
  const set = await env.cli('root', ['admin', 'console-password', 'audrey'], password + '\n');
  assert.equal(set.code, 0, set.out);

  await env.signIn('audrey', password);
  await page.locator('#who').filter({hasText: /\(audrey\), auditor$/}).waitFor();
  await page.getByRole('navigation').getByRole('link', {name: 'Users'}).click();
  await page.getByRole('cell', {name: 'audrey', exact: true}).waitFor();
  assert.equal(await page.getByRole('button', {name: 'Add user'}).count(), 0);
  assert.equal(await page.getByRole('button', {name: /^Offboard /}).count(), 0);
  assert.equal(await page.getByRole('button', {name: /^Reactivate /}).count(), 0);
  // Only administrators may list other people's devices: no such button.
  assert.equal(await page.getByRole('button', {name: /^Devices of /}).count(), 0);
  assert.equal(await page.getByText('null').count(), 0);

  // The API refuses an auditor's change even with the session's own token.
  const refused = await page.evaluate(async () => {
    const session = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/users/root/deactivate',
        {method: 'POST', headers: {'X-CSRF-Token': session.csrf_token}});
    return {status: r.status, body: await r.json()};
  });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, 'permission_denied');

  // Auditors may verify the audit chain.
  await page.getByRole('navigation').getByRole('link', {name: 'Audit log'}).click();
  await page.getByRole('button', {name: 'Verify the chain'}).click();
  await page.locator('#verify-result').filter({hasText: 'The chain is whole'}).waitFor();
});

it('an ended session goes back to the sign-in form with a message', async (env) => {
  const {page} = env;
  await env.signIn();
  await page.locator('#dash-devices').filter({hasText: /^\d+$/}).waitFor();
  await env.context.clearCookies();  // as if the session had ended on the server
  await page.getByRole('navigation').getByRole('link', {name: 'Users'}).click();
  await page.getByRole('alert').filter({hasText: 'Your session has ended'}).waitFor();
  await page.getByRole('heading', {name: 'Sign in'}).waitFor();
  assert.equal(await page.getByRole('navigation').isVisible(), false);
  // Signing in again works and shows the page asked for.
  await page.getByLabel('Login').fill(env.admin);
  await page.getByLabel('Password').fill(env.adminPassword);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByRole('heading', {name: 'Users'}).waitFor();
});

it('on a 360 px wide phone the menu opens and no page scrolls sideways', async (env) => {
  const {page} = env;
  await page.setViewportSize({width: 360, height: 740});
  await env.signIn();
  await page.locator('#dash-devices').waitFor();
  const nav = page.getByRole('navigation');
  assert.equal(await nav.getByRole('link', {name: 'Users'}).isVisible(), false, 'menu closed');
  const menu = page.getByRole('button', {name: 'Menu'});
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
  await menu.click();
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  for (const [link, ready] of [['Users', 'table.data'], ['Audit log', 'table.data'],
    ['Status', '#status-version'], ['Dashboard', '#dash-devices']]) {
    await nav.getByRole('link', {name: link}).click();
    // The menu closes once the chosen page is shown (a bounded wait: the
    // previous page's table may still be there for a moment).
    await nav.getByRole('link', {name: link}).waitFor({state: 'hidden'});
    await page.locator(ready).first().waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 360, link + ' is ' + width + ' px wide');
    if (link !== 'Dashboard') await menu.click();
  }
});

it('path tricks in asset URLs get 404 and nothing else', async ({broker}) => {
  for (const trick of ['/..%2f..%2fetc/passwd', '/%2e%2e/', '/%2e%2e/%2e%2e/etc/passwd',
    '/../../etc/passwd', '/pages/..%2f..%2fCMakeLists.txt', '/pages/%2e%2e/app.js',
    '/..\\..\\etc\\passwd', '/index.html%00.js']) {
    const r = await rawGet(broker.consolePort, trick);
    assert.equal(r.status, 404, trick + ' answered ' + r.status + ': ' + r.body);
    assert.match(r.type, /^application\/json/, trick);
    assert.equal(JSON.parse(r.body).error.code, 'not_found', trick);
    assert.doesNotMatch(r.body, /root:|chatpro_console|ChatProConsole/, trick);
  }
  assert.equal((await rawGet(broker.consolePort, '/pages/users.js')).status, 200);
});
