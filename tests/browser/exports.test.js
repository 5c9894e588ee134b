// SPDX-License-Identifier: Apache-2.0
//
// Four eyes in the console's exports page, in a real browser against a real
// chatpro-broker: an administrator opens a subject access case, an auditor
// approves it in another browser context (the administrator is offered no
// approval of their own case), and the administrator starts the export,
// watches its progress bar fill and downloads it: a zip file under the
// console's own name, holding the subject's message.
'use strict';

const {after, test} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const {closeBrowser, missing, openBrowser, runTest} = require('./harness');

const skip = missing();
after(closeBrowser);
const it = (name, body) => test(name, {skip: skip || false}, (t) => runTest(t, body));

const kAuditorPassword = 'auditor pass phrase 42';

// The members of a zip file as {name: Buffer}, read through its central
// directory (the sizes there hold also when the local headers defer them).
function readZip(bytes) {
  let end = bytes.length - 22;
  while (end >= 0 && bytes.readUInt32LE(end) !== 0x06054b50) --end;
  assert.ok(end >= 0, 'no end of central directory: not a zip file');
  const count = bytes.readUInt16LE(end + 10);
  let at = bytes.readUInt32LE(end + 16);
  const members = {};
  for (let i = 0; i < count; ++i) {
    assert.equal(bytes.readUInt32LE(at), 0x02014b50, 'a central directory entry');
    const method = bytes.readUInt16LE(at + 10);
    const size = bytes.readUInt32LE(at + 20);
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    const local = bytes.readUInt32LE(at + 42);
    const name = bytes.toString('utf8', at + 46, at + 46 + nameLength);
    const data = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    const raw = bytes.subarray(data, data + size);
    members[name] = method === 8 ? zlib.inflateRawSync(raw) : raw;
    at += 46 + nameLength + extraLength + commentLength;
  }
  return members;
}

async function signInAs(page, url, login, password) {
  await page.goto(url + '/');
  await page.getByLabel('Login').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.locator('#who').waitFor();
}

it('an administrator\'s case is approved by an auditor elsewhere and the export downloads as a zip',
    async (env) => {
      const {page} = env;
      // Ben is the subject; Audrey, an auditor with a console password.
      for (const [login, role] of [['ben', 'user'], ['audrey', 'auditor']]) {
        const added = await env.cli('root', ['admin', 'user', 'add', login, '--role', role]);
        assert.equal(added.code, 0, added.out);
      }
      const password = await env.cli('root', ['admin', 'console-password', 'audrey'],
          kAuditorPassword + '\n');
      assert.equal(password.code, 0, password.out);
      const sent = await env.cli('root', ['send', '--to', 'ben', '--text', 'About your payslip, Ben']);
      assert.equal(sent.code, 0, sent.out);

      await env.signIn();
      await page.getByRole('navigation').getByRole('link', {name: 'Exports'}).click();
      await page.getByRole('heading', {name: 'Open a case'}).waitFor();
      await page.getByLabel('Kind').selectOption('subject_access');
      await page.getByLabel('People (logins)').fill('ben');
      await page.getByLabel('Legal basis').fill('GDPR art. 15 request BR-7');
      await page.getByRole('button', {name: 'Open case'}).click();
      await page.getByRole('status').filter({hasText: 'Case 1 is open'}).waitFor();
      await page.getByRole('cell', {name: 'awaiting approval', exact: true}).waitFor();
      await page.getByText('Awaiting approval by an auditor').waitFor();
      assert.equal(await page.getByRole('button', {name: 'Approve case 1'}).count(), 0,
          'nobody is offered the approval of their own case');

      // The auditor, in a browser context of their own.
      const other = await openBrowser();
      try {
        const auditorPage = await other.newPage();
        await signInAs(auditorPage, env.broker.url, 'audrey', kAuditorPassword);
        await auditorPage.getByRole('navigation').getByRole('link', {name: 'Exports'}).click();
        await auditorPage.getByRole('cell', {name: 'GDPR art. 15 request BR-7'}).waitFor();
        await auditorPage.getByRole('button', {name: 'Approve case 1'}).click();
        const dialog = auditorPage.getByRole('dialog');
        await dialog.getByText(/^Approve case 1 \(Subject access, People: ben\)/).waitFor();
        await dialog.getByRole('button', {name: 'Approve'}).click();
        await auditorPage.getByRole('status').filter({hasText: 'Case 1 is approved.'}).waitFor();
        await auditorPage.getByRole('cell', {name: /^audrey, /}).waitFor();
      } finally {
        await other.close().catch(() => {});
      }

      // The administrator's page sees the approval by itself.
      await page.getByRole('button', {name: 'Start export of case 1'}).click();
      const bar = page.getByRole('progressbar', {name: 'Export 1'});
      await bar.waitFor();
      assert.equal(await bar.getAttribute('aria-valuemin'), '0');
      assert.equal(await bar.getAttribute('aria-valuemax'), '100');
      await page.locator('[role=progressbar][aria-valuenow="100"]').waitFor();
      assert.match(await bar.getAttribute('aria-valuetext'), /^Done: 1 message, 0 attachments, /);

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', {name: 'Download export of case 1'}).click(),
      ]);
      assert.equal(download.suggestedFilename(), 'chatpro-export-1.zip');
      const file = path.join(env.dir, 'downloaded.zip');
      await download.saveAs(file);
      const bytes = fs.readFileSync(file);
      assert.equal(bytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'a zip file');
      const members = readZip(bytes);
      assert.ok(members['messages.jsonl'], Object.keys(members).join(', '));
      assert.match(members['messages.jsonl'].toString('utf8'), /About your payslip, Ben/);
      assert.match(members['manifest.json'].toString('utf8'), /GDPR art\. 15 request BR-7/);
      await page.getByRole('status').filter({hasText: 'Downloaded the export of case 1.'}).waitFor();
    });
