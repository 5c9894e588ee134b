// SPDX-License-Identifier: Apache-2.0
// The console's page framework: the sign-in flow, the shell (header, menu,
// live messages, confirmation dialog) and ChatProConsole, the object every
// page file (pages/<id>.js) uses to register itself and to call the API.
//
// Every text from the server is put into the page as text (textContent or
// text nodes), never parsed as HTML: no markup string is ever assigned. Changes
// carry the session's CSRF token. A 401 from any call while signed in ends
// the session in the page and shows the sign-in form with a message.
'use strict';

const ChatProConsole = (() => {
  let session = null;     // the signed-in session, or null
  const pages = [];       // registered pages, sorted by order
  let shown = null;       // {page, cleanup, timers, generation} of the page on screen
  let generation = 0;     // bumped on every page change; stale renders stop writing

  function byId(id) {
    return document.getElementById(id);
  }

  // ------------------------------------------------------------ DOM helper

  function append(parent, child) {
    if (child === null || child === undefined || child === false || child === true) return;
    if (Array.isArray(child)) {
      for (const c of child) append(parent, c);
      return;
    }
    if (child instanceof Node) {
      parent.appendChild(child);
      return;
    }
    parent.appendChild(document.createTextNode(String(child)));
  }

  // h('button', {class: 'primary', onclick: f, type: 'button'}, 'Save')
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (typeof value === 'function' && key.startsWith('on')) {
        el.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (key === 'class' || key === 'className') {
        el.className = String(value);
      } else if (key === 'value' && ('value' in el)) {
        el.value = String(value);
      } else if (value === true) {
        el.setAttribute(key, '');
      } else {
        el.setAttribute(key, String(value));
      }
    }
    append(el, children);
    return el;
  }

  // ------------------------------------------------------------ messages

  // Shows `text` in the live region: kind 'error' in the alert, else in the
  // status line. An empty text clears both.
  function say(text, kind) {
    const alert = byId('alert');
    const notice = byId('notice');
    alert.textContent = '';
    notice.textContent = '';
    if (!text) return;
    if (kind === 'error') alert.textContent = text;
    else notice.textContent = text;
  }

  // ------------------------------------------------------------ API

  function sessionEnded(message) {
    session = null;
    leavePage();
    showSignIn();
    say(message, 'error');
  }

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD' && session) {
      headers['X-CSRF-Token'] = session.csrf_token;
    }
    let response;
    try {
      response = await fetch('/api/v1' + path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (e) {
      const failure = new Error('the console cannot be reached: ' + e.message);
      failure.status = 0;
      failure.code = 'unavailable';
      throw failure;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = (data && data.error) || {code: 'internal', message: response.statusText};
      const failure = new Error(error.message);
      failure.status = response.status;
      failure.code = error.code;
      if (response.status === 401 && session) {
        sessionEnded('Your session has ended (' + error.message + '). Sign in again.');
      }
      throw failure;
    }
    return data;
  }

  // Saves what GET `path` answers as a file, named as the server says
  // (Content-Disposition) or `fallbackName`.
  async function download(path, fallbackName) {
    const response = await fetch('/api/v1' + path, {credentials: 'same-origin', cache: 'no-store'});
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      const error = (data && data.error) || {code: 'internal', message: response.statusText};
      const failure = new Error(error.message);
      failure.status = response.status;
      failure.code = error.code;
      if (response.status === 401 && session) {
        sessionEnded('Your session has ended (' + error.message + '). Sign in again.');
      }
      throw failure;
    }
    let name = fallbackName;
    const disposition = response.headers.get('Content-Disposition') || '';
    const match = /filename="?([^";]+)"?/.exec(disposition);
    if (match) name = match[1];
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = h('a', {href: url, download: name, hidden: true});
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // ------------------------------------------------------------ formatting

  function formatTime(us) {
    if (!us) return '';
    return new Date(Number(us) / 1000).toLocaleString();
  }

  function formatBytes(n) {
    n = Number(n) || 0;
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      ++i;
    }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  }

  function formatDuration(seconds) {
    let s = Math.max(0, Math.floor(Number(seconds) || 0));
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const hours = Math.floor(s / 3600);
    s -= hours * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    if (d > 0) return d + ' d ' + hours + ' h';
    if (hours > 0) return hours + ' h ' + m + ' min';
    if (m > 0) return m + ' min ' + s + ' s';
    return s + ' s';
  }

  // ------------------------------------------------------------ table

  // An accessible table: a caption, column headers, one row per item. On a
  // narrow screen each cell shows its column's label (data-label).
  function table(caption, columns, rows, emptyText) {
    const head = h('tr', null, columns.map((c) => h('th', {scope: 'col'}, c.label)));
    const body = h('tbody');
    if (!rows || rows.length === 0) {
      body.appendChild(h('tr', {class: 'empty'},
          h('td', {colspan: columns.length}, emptyText || 'Nothing to show.')));
    } else {
      for (const row of rows) {
        body.appendChild(h('tr', null, columns.map((c) => {
          const v = c.value(row);
          return h('td', {'data-label': c.label}, v === null || v === undefined ? '' : v);
        })));
      }
    }
    return h('table', {class: 'data'}, h('caption', null, caption), h('thead', null, head), body);
  }

  // ------------------------------------------------------------ dialog

  // An accessible modal question; resolves true when confirmed, false when
  // cancelled (button or Escape).
  function confirmDialog(question, confirmLabel) {
    return new Promise((resolve) => {
      const opener = document.activeElement;
      const text = h('p', {id: 'confirm-text'}, question);
      const cancel = h('button', {type: 'button', value: 'cancel'}, 'Cancel');
      const ok = h('button', {type: 'button', class: 'danger', value: 'ok'}, confirmLabel || 'OK');
      const dialog = h('dialog', {class: 'confirm', 'aria-labelledby': 'confirm-text'},
          text, h('div', {class: 'actions'}, cancel, ok));
      let answered = false;
      const finish = (answer) => {
        if (answered) return;
        answered = true;
        if (dialog.open) dialog.close();
        dialog.remove();
        if (opener && typeof opener.focus === 'function' && document.contains(opener)) opener.focus();
        resolve(answer);
      };
      cancel.addEventListener('click', () => finish(false));
      ok.addEventListener('click', () => finish(true));
      dialog.addEventListener('cancel', (e) => {
        e.preventDefault();
        finish(false);
      });
      dialog.addEventListener('close', () => finish(false));
      document.body.appendChild(dialog);
      dialog.showModal();
      cancel.focus();
    });
  }

  // ------------------------------------------------------------ pages

  function registerPage(page) {
    if (!page || !page.id || typeof page.render !== 'function') {
      throw new Error('registerPage needs {id, title, order, render}');
    }
    pages.push(page);
    pages.sort((a, b) => (a.order || 0) - (b.order || 0));
    if (session) {
      buildNav();
      if (!shown) route();
    }
  }

  function currentId() {
    const hash = location.hash || '';
    return hash.startsWith('#/') ? decodeURIComponent(hash.slice(2)) : '';
  }

  function buildNav() {
    const list = byId('nav-list');
    list.textContent = '';
    const current = shown ? shown.page.id : currentId();
    for (const page of pages) {
      const link = h('a', {href: '#/' + page.id}, page.title);
      if (page.id === current) link.setAttribute('aria-current', 'page');
      list.appendChild(h('li', null, link));
    }
  }

  function leavePage() {
    ++generation;
    if (!shown) return;
    for (const t of shown.timers) clearInterval(t);
    if (typeof shown.cleanup === 'function') {
      try {
        shown.cleanup();
      } catch (e) {
        console.error(e);
      }
    }
    shown = null;
  }

  function setMenu(open) {
    const button = byId('menu-button');
    button.setAttribute('aria-expanded', open ? 'true' : 'false');
    byId('nav').classList.toggle('open', open);
  }

  async function route() {
    if (!session || pages.length === 0) return;
    let page = pages.find((p) => p.id === currentId());
    if (!page) {
      page = pages[0];
      history.replaceState(null, '', '#/' + page.id);  // fires no hashchange
    }
    leavePage();
    const mine = generation;
    const state = {page: page, cleanup: null, timers: []};
    shown = state;
    setMenu(false);
    buildNav();
    say('');
    document.title = page.title + ' - ChatPro admin console';
    const container = byId('page');
    container.textContent = '';
    const heading = h('h1', {tabindex: '-1'}, page.title);
    const body = h('div', {class: 'page-body'});
    container.append(heading, body);
    container.hidden = false;
    const ctx = {
      session: session,
      readOnly: session.role === 'auditor',
      say: say,
      confirm: confirmDialog,
      every(ms, fn) {
        if (mine !== generation) return;
        const run = async () => {
          if (mine !== generation) return;
          try {
            await fn();
          } catch (e) {
            if (mine === generation && e.status !== 401) say(e.message, 'error');
          }
        };
        run();
        state.timers.push(setInterval(run, ms));
      },
    };
    if (focusHeading) heading.focus();
    focusHeading = true;
    try {
      const cleanup = await page.render(body, ctx);
      if (mine === generation) state.cleanup = cleanup;
      else if (typeof cleanup === 'function') cleanup();
    } catch (e) {
      if (mine === generation && e.status !== 401) say(e.message, 'error');
    }
  }
  let focusHeading = false;  // not on the first page after signing in

  // ------------------------------------------------------------ sign-in

  function showSignIn() {
    session = null;
    byId('user-box').hidden = true;
    byId('nav').hidden = true;
    byId('menu-button').hidden = true;
    byId('page').hidden = true;
    byId('page').textContent = '';
    byId('sign-in').hidden = false;
    document.title = 'Sign in - ChatPro admin console';
    byId('login').focus();
  }

  function showSession(s) {
    session = s;
    byId('who').textContent =
        (s.display_name ? s.display_name + ' (' + s.login + ')' : s.login) + ', ' + s.role;
    byId('sign-in').hidden = true;
    byId('user-box').hidden = false;
    byId('nav').hidden = false;
    byId('menu-button').hidden = false;
    buildNav();
    focusHeading = false;
    route();
  }

  function start() {
    byId('sign-in').addEventListener('submit', async (event) => {
      event.preventDefault();
      say('');
      const password = byId('password');
      try {
        const s = await api('POST', '/session', {
          login: byId('login').value,
          password: password.value,
        });
        password.value = '';
        showSession(s);
      } catch (e) {
        password.value = '';
        say(e.message, 'error');
        password.focus();
      }
    });
    byId('sign-out').addEventListener('click', async () => {
      try {
        await api('DELETE', '/session');
      } catch (e) {
        // Signed out either way.
      }
      leavePage();
      showSignIn();
      say('Signed out.', 'ok');
    });
    byId('menu-button').addEventListener('click', () => {
      setMenu(byId('menu-button').getAttribute('aria-expanded') !== 'true');
    });
    byId('skip-link').addEventListener('click', (event) => {
      event.preventDefault();  // the hash is the page's address
      byId('main').focus();
    });
    window.addEventListener('hashchange', () => {
      if (session && location.hash.startsWith('#/')) {
        focusHeading = true;
        route();
      }
    });
    api('GET', '/session').then(showSession, () => showSignIn());
  }

  document.addEventListener('DOMContentLoaded', start);

  return Object.freeze({
    api, h, registerPage, table, formatTime, formatBytes, formatDuration, download,
  });
})();
window.ChatProConsole = ChatProConsole;
