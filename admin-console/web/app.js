// SPDX-License-Identifier: Apache-2.0
// The console's sign-in page. Every text from the server is set with
// textContent, never parsed as HTML; changes carry the session's CSRF token.
'use strict';

let csrfToken = '';

function show(id, visible) {
  document.getElementById(id).hidden = !visible;
}

function say(text) {
  const message = document.getElementById('message');
  message.textContent = text;
  message.hidden = text === '';
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== '') headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch('/api/v1' + path, {
    method: method,
    headers: headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || {code: 'internal', message: response.statusText};
    const failure = new Error(error.message);
    failure.status = response.status;
    failure.code = error.code;
    throw failure;
  }
  return data;
}

async function showSession(session) {
  csrfToken = session.csrf_token;
  document.getElementById('who').textContent =
      session.display_name ? session.display_name + ' (' + session.login + ')' : session.login;
  document.getElementById('role').textContent = session.role;
  document.getElementById('expires').textContent = session.expires_at;
  show('sign-in', false);
  show('signed-in', true);
  try {
    const status = await api('GET', '/status');
    document.getElementById('status').textContent =
        'ChatPro ' + status.version + ', running since ' + status.started_at;
  } catch (e) {
    document.getElementById('status').textContent = '';
  }
}

function showSignIn() {
  csrfToken = '';
  show('signed-in', false);
  show('sign-in', true);
}

document.addEventListener('DOMContentLoaded', async () => {
  document.getElementById('sign-in').addEventListener('submit', async (event) => {
    event.preventDefault();
    say('');
    const password = document.getElementById('password');
    try {
      const session = await api('POST', '/session', {
        login: document.getElementById('login').value,
        password: password.value,
      });
      password.value = '';
      await showSession(session);
    } catch (e) {
      password.value = '';
      say(e.message);
    }
  });
  document.getElementById('sign-out').addEventListener('click', async () => {
    try {
      await api('DELETE', '/session');
    } catch (e) {
      // Signed out either way.
    }
    say('Signed out.');
    showSignIn();
  });
  try {
    await showSession(await api('GET', '/session'));
  } catch (e) {
    showSignIn();
  }
});
