// SPDX-License-Identifier: Apache-2.0
// The audit log: newest first, paged back to older entries 200 at a time
// (GET /audit?from_seq&limit), filtered in the page over the entries loaded
// (text, event type, actor, date range), and the hash chain verified on request.
'use strict';
(() => {
  const C = ChatProConsole;
  const h = C.h;
  const kPage = 200;

  function startOfDay(value) {
    return value ? new Date(value + 'T00:00:00').getTime() * 1000 : null;
  }

  C.registerPage({
    id: 'audit',
    title: 'Audit log',
    order: 80,
    async render(container, ctx) {
      let entries = [];  // loaded, newest first
      let oldest = 0;    // seq of the oldest loaded entry (0: none loaded)

      const text = h('input', {id: 'audit-text', type: 'search', autocomplete: 'off'});
      const action = h('select', {id: 'audit-action'});
      const actor = h('input', {id: 'audit-actor', type: 'search', autocomplete: 'off'});
      const from = h('input', {id: 'audit-from', type: 'date'});
      const to = h('input', {id: 'audit-to', type: 'date'});
      for (const input of [text, actor]) input.addEventListener('input', () => show());
      for (const input of [action, from, to]) input.addEventListener('change', () => show());

      const listBox = h('div');
      const older = h('button', {type: 'button', onclick: () => loadOlder()}, 'Load older entries');
      const verifyResult = h('div', {id: 'verify-result', 'aria-live': 'polite'});
      const verify = h('button', {type: 'button', class: 'primary', onclick: async () => {
        verify.disabled = true;
        verifyResult.textContent = '';
        verifyResult.appendChild(h('p', null, 'Checking the chain…'));
        try {
          const r = await C.api('POST', '/audit/verify');
          verifyResult.textContent = '';
          if (r.whole) {
            verifyResult.appendChild(h('p', {class: 'message ok'},
                'The chain is whole: ' + r.records.toLocaleString() +
                ' entries checked, none changed or missing.'));
          } else {
            verifyResult.appendChild(h('p', {class: 'message error'},
                'The chain is BROKEN at entry ' + r.first_broken_seq + ' (' +
                r.records.toLocaleString() + ' entries checked): ' + r.message));
          }
        } catch (e) {
          verifyResult.textContent = '';
          if (e.status !== 401) ctx.say(e.message, 'error');
        } finally {
          verify.disabled = false;
        }
      }}, 'Verify the chain');

      function matches(e) {
        const q = text.value.trim().toLowerCase();
        if (q && ![e.actor, e.action, e.target, e.details, String(e.seq)].some(
            (f) => f.toLowerCase().includes(q))) {
          return false;
        }
        if (action.value && e.action !== action.value) return false;
        const who = actor.value.trim().toLowerCase();
        if (who && !e.actor.toLowerCase().includes(who)) return false;
        const start = startOfDay(from.value);
        if (start !== null && e.at_us < start) return false;
        const end = startOfDay(to.value);
        if (end !== null && e.at_us >= end + 86400e6) return false;
        return true;
      }

      function fillActions() {
        const chosen = action.value;
        const names = [...new Set(entries.map((e) => e.action))].sort();
        action.textContent = '';
        action.appendChild(h('option', {value: ''}, 'Any'));
        for (const n of names) action.appendChild(h('option', {value: n}, n));
        action.value = names.includes(chosen) ? chosen : '';
      }

      function show() {
        const shown = entries.filter(matches);
        listBox.textContent = '';
        listBox.appendChild(C.table(
            'Audit entries: ' + shown.length + ' shown of ' + entries.length + ' loaded', [
              {label: 'Seq', value: (e) => String(e.seq)},
              {label: 'Time', value: (e) => C.formatTime(e.at_us)},
              {label: 'Actor', value: (e) => e.actor},
              {label: 'Event', value: (e) => e.action},
              {label: 'Target', value: (e) => e.target},
              {label: 'Details', value: (e) => h('code', null, e.details)},
            ], shown, entries.length ? 'No loaded entry matches the filters.' : 'The log is empty.'));
        older.hidden = oldest <= 1;
      }

      async function loadNewest() {
        const r = await C.api('GET', '/audit?limit=' + kPage);
        entries = r.entries.slice().reverse();
        oldest = entries.length ? entries[entries.length - 1].seq : 0;
        fillActions();
        show();
      }

      async function loadOlder() {
        if (oldest <= 1) return;
        const limit = Math.min(kPage, oldest - 1);
        try {
          const r = await C.api('GET', '/audit?from_seq=' + (oldest - limit) + '&limit=' + limit);
          const page = r.entries.filter((e) => e.seq < oldest).reverse();
          entries = entries.concat(page);
          oldest = page.length ? page[page.length - 1].seq : 1;
          fillActions();
          show();
        } catch (e) {
          if (e.status !== 401) ctx.say(e.message, 'error');
        }
      }

      container.append(
          h('div', {class: 'toolbar'}, verify),
          verifyResult,
          h('p', {class: 'muted'}, 'Newest first. The filters apply to the entries loaded; ' +
              'load older entries to search further back.'),
          h('div', {class: 'toolbar', role: 'search', 'aria-label': 'Filter the audit log'},
              h('div', {class: 'field'}, h('label', {for: 'audit-text'}, 'Text'), text),
              h('div', {class: 'field'}, h('label', {for: 'audit-action'}, 'Event type'), action),
              h('div', {class: 'field'}, h('label', {for: 'audit-actor'}, 'Actor'), actor),
              h('div', {class: 'field'}, h('label', {for: 'audit-from'}, 'From (day)'), from),
              h('div', {class: 'field'}, h('label', {for: 'audit-to'}, 'To (day)'), to)),
          listBox,
          h('div', {class: 'pager'}, older,
              h('button', {type: 'button', onclick: () => loadNewest().catch((e) => {
                if (e.status !== 401) ctx.say(e.message, 'error');
              })}, 'Reload the newest')));
      await loadNewest();
    },
  });
})();
