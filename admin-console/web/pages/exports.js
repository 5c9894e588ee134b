// SPDX-License-Identifier: Apache-2.0
// The exports page: cases for access to people's messages (four eyes) and
// their exports. Open a case (a subject access request for a person, or a
// search with a keyword and a date range), approve someone else's case (the
// broker allows only the other role), start the export of an approved case,
// follow its progress and download the zip file.
//
// Approving needs the other role, so auditors, read-only elsewhere, have the
// case controls here too; the broker decides every one of them.
'use strict';

(() => {
  const C = ChatProConsole;

  // Unix microseconds of a date input's day (its start, or its end with
  // endOfDay), in local time; 0 for an empty input.
  function dayMicros(value, endOfDay) {
    if (!value) return 0;
    const [y, m, d] = value.split('-').map(Number);
    const at = endOfDay ? new Date(y, m - 1, d, 23, 59, 59, 999) : new Date(y, m - 1, d);
    return at.getTime() * 1000;
  }

  function count(n, noun) {
    return n + ' ' + noun + (n === 1 ? '' : 's');
  }

  function roleName(role) {
    return role === 'admin' ? 'an administrator' : role === 'auditor' ? 'an auditor' : 'someone';
  }

  function kindName(kind) {
    return kind === 'search' ? 'Search' : 'Subject access';
  }

  function scopeText(c) {
    const parts = ['People: ' + c.subjects.join(', ')];
    if (c.keyword) parts.push('keyword "' + c.keyword + '"');
    if (c.from_at_us || c.to_at_us) {
      parts.push('from ' + (c.from_at_us ? C.formatTime(c.from_at_us) : 'the start') +
          ' to ' + (c.to_at_us ? C.formatTime(c.to_at_us) : 'now'));
    }
    if (c.conversations && c.conversations.length) {
      parts.push('conversations ' + c.conversations.join(', '));
    }
    if (c.redact_others) parts.push('others redacted');
    return parts.join('; ');
  }

  function stateBadge(state) {
    const kind = state === 'exported' ? 'ok' : state === 'approved' ? 'ok'
        : state === 'expired' ? 'bad' : 'warn';
    return C.h('span', {class: 'badge ' + kind}, state);
  }

  // The progress of an export: the broker counts what it has exported so far
  // but cannot know the total before it has read everything, so the bar runs
  // without a value until it is done (full).
  function progressBar(exp) {
    const done = exp.state === 'done';
    const text = exp.state === 'failed'
        ? 'Failed: ' + exp.error
        : (done ? 'Done: ' : 'Running: ') + count(exp.messages, 'message') + ', ' +
          count(exp.attachments, 'attachment') + ', ' + C.formatBytes(exp.bytes);
    const props = {
      role: 'progressbar',
      class: 'export-progress' + (done ? ' done' : '') + (exp.state === 'failed' ? ' failed' : ''),
      'aria-label': 'Export ' + exp.id,
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuetext': text,
      'data-state': exp.state,
    };
    if (done) props['aria-valuenow'] = 100;
    return C.h('div', {class: 'export-status'},
        C.h('div', props, C.h('div', {class: 'export-progress-fill'})),
        C.h('span', {class: 'muted'}, text));
  }

  function caseForm(ctx, reload) {
    const kind = C.h('select', {id: 'case-kind', name: 'kind'},
        C.h('option', {value: 'subject_access'}, 'Subject access request'),
        C.h('option', {value: 'search'}, 'Search by keyword'));
    const subjects = C.h('input', {id: 'case-subjects', name: 'subjects', required: true,
      autocomplete: 'off', 'aria-describedby': 'case-subjects-hint'});
    const basis = C.h('textarea', {id: 'case-basis', name: 'legal_basis', required: true, rows: 2,
      maxlength: 2000, 'aria-describedby': 'case-basis-hint'});
    const keyword = C.h('input', {id: 'case-keyword', name: 'keyword', maxlength: 200});
    const from = C.h('input', {id: 'case-from', name: 'from', type: 'date'});
    const to = C.h('input', {id: 'case-to', name: 'to', type: 'date'});
    const redact = C.h('input', {id: 'case-redact', name: 'redact_others', type: 'checkbox'});
    const searchOnly = C.h('div', {class: 'field', hidden: true},
        C.h('label', {for: 'case-keyword'}, 'Keyword'), keyword);
    kind.addEventListener('change', () => {
      searchOnly.hidden = kind.value !== 'search';
      keyword.required = kind.value === 'search';
    });
    const submit = C.h('button', {type: 'submit', class: 'primary'}, 'Open case');
    const form = C.h('form', {class: 'card form-grid', id: 'case-form',
      'aria-labelledby': 'case-form-title'},
    C.h('h2', {id: 'case-form-title'}, 'Open a case'),
    C.h('div', {class: 'field'}, C.h('label', {for: 'case-kind'}, 'Kind'), kind),
    C.h('div', {class: 'field'}, C.h('label', {for: 'case-subjects'}, 'People (logins)'), subjects,
        C.h('span', {id: 'case-subjects-hint', class: 'muted'}, 'Separate several with commas.')),
    C.h('div', {class: 'field'}, C.h('label', {for: 'case-basis'}, 'Legal basis'), basis,
        C.h('span', {id: 'case-basis-hint', class: 'muted'},
            'The request\'s reference and the rule it rests on.')),
    searchOnly,
    C.h('div', {class: 'field'}, C.h('label', {for: 'case-from'}, 'From (optional)'), from),
    C.h('div', {class: 'field'}, C.h('label', {for: 'case-to'}, 'To (optional)'), to),
    C.h('div', {class: 'field checkbox'}, redact,
        C.h('label', {for: 'case-redact'}, 'Replace other people\'s names in the export')),
    submit);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = {
        kind: kind.value,
        legal_basis: basis.value.trim(),
        subjects: subjects.value.split(',').map((s) => s.trim()).filter((s) => s),
        from_at_us: dayMicros(from.value, false),
        to_at_us: dayMicros(to.value, true),
        redact_others: redact.checked,
      };
      if (kind.value === 'search') body.keyword = keyword.value.trim();
      submit.disabled = true;
      try {
        const opened = await C.api('POST', '/cases', body);
        ctx.say('Case ' + opened.id + ' is open; it needs the approval of someone of the other role.',
            'ok');
        form.reset();
        searchOnly.hidden = true;
        await reload();
      } catch (err) {
        ctx.say('Cannot open the case: ' + err.message + ' (' + err.code + ')', 'error');
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  C.registerPage({
    id: 'exports',
    title: 'Exports',
    order: 60,
    render: async (container, ctx) => {
      const exports = new Map();  // case id -> export JSON, for cases that have one
      // Roles by login, to offer the approval to the other role only. A
      // hint for the page: the broker decides, and if the list cannot be
      // read every case offers it.
      const roles = new Map();
      try {
        for (const u of (await C.api('GET', '/users')).users) roles.set(u.login, u.role);
      } catch (err) {
        if (err.status === 401) throw err;
      }
      const otherRole = (c) => {
        const role = roles.get(c.requested_by);
        return role === 'admin' ? 'auditor' : role === 'auditor' ? 'admin' : '';
      };
      const listBox = C.h('div', {id: 'cases'});

      async function approve(c) {
        const yes = await ctx.confirm('Approve case ' + c.id + ' (' + kindName(c.kind) + ', ' +
            scopeText(c) + ') on the basis "' + c.legal_basis + '"?', 'Approve');
        if (!yes) return;
        try {
          await C.api('POST', '/cases/' + c.id + '/approve');
          ctx.say('Case ' + c.id + ' is approved.', 'ok');
        } catch (err) {
          ctx.say('Cannot approve case ' + c.id + ': ' + err.message + ' (' + err.code + ')', 'error');
        }
        await reload();
      }

      async function start(c) {
        try {
          const exp = await C.api('POST', '/cases/' + c.id + '/export');
          exports.set(c.id, exp);
          ctx.say('The export of case ' + c.id + ' is running.', 'ok');
        } catch (err) {
          ctx.say('Cannot start the export of case ' + c.id + ': ' + err.message + ' (' + err.code +
              ')', 'error');
        }
        await reload();
      }

      async function save(exp) {
        try {
          await C.download('/exports/' + exp.id + '/download', 'chatpro-export-' + exp.id + '.zip');
          ctx.say('Downloaded the export of case ' + exp.case_id + '.', 'ok');
        } catch (err) {
          ctx.say('Cannot download export ' + exp.id + ': ' + err.message + ' (' + err.code + ')',
              'error');
        }
      }

      function actions(c) {
        const exp = exports.get(c.id);
        const out = [];
        const mayApprove = c.requested_by !== ctx.session.login &&
            (otherRole(c) === '' || otherRole(c) === ctx.session.role);
        if (c.state === 'awaiting approval' && mayApprove) {
          out.push(C.h('button', {type: 'button', class: 'primary', onclick: () => approve(c)},
              'Approve case ' + c.id));
        }
        if (c.state === 'approved' && (!exp || exp.state === 'failed')) {
          out.push(C.h('button', {type: 'button', class: 'primary', onclick: () => start(c)},
              (exp ? 'Retry export of case ' : 'Start export of case ') + c.id));
        }
        if (exp) out.push(progressBar(exp));
        if (exp && exp.state === 'done') {
          out.push(C.h('button', {type: 'button', onclick: () => save(exp)},
              'Download export of case ' + c.id));
        }
        if (c.state === 'awaiting approval' && !mayApprove) {
          out.push(C.h('span', {class: 'muted'},
              'Awaiting approval by ' + roleName(otherRole(c)) +
              (otherRole(c) ? '' : ' of the other role')));
        }
        return C.h('div', {class: 'case-actions'}, out);
      }

      function show(cases) {
        const rows = cases.slice().reverse();  // newest first
        listBox.replaceChildren(C.table('Cases', [
          {label: 'Case', value: (c) => String(c.id)},
          {label: 'Kind', value: (c) => kindName(c.kind)},
          {label: 'State', value: (c) => stateBadge(c.state)},
          {label: 'Legal basis', value: (c) => c.legal_basis},
          {label: 'Scope', value: (c) => scopeText(c)},
          {label: 'Requested', value: (c) => c.requested_by + ', ' + C.formatTime(c.requested_at_us)},
          {label: 'Approved', value: (c) => c.approved_by
            ? c.approved_by + ', ' + C.formatTime(c.approved_at_us) +
              (c.state === 'approved' ? ' (export by ' + C.formatTime(c.approval_expires_at_us) + ')'
                : '')
            : ''},
          {label: 'Export', value: actions},
        ], rows, 'No case yet.'));
      }

      // Exports are followed for cases that may have one: approved (running
      // or failed) and exported ones; finished ones are asked once. The
      // table is rebuilt only when something changed, so that a keyboard
      // user's focus is not taken away by the refresh.
      let shownKey = '';
      async function reload() {
        const {cases} = await C.api('GET', '/cases');
        for (const c of cases) {
          const known = exports.get(c.id);
          if (c.state !== 'approved' && c.state !== 'exported') continue;
          if (known && known.state === 'done') continue;
          try {
            exports.set(c.id, await C.api('GET', '/exports/' + c.id));
          } catch (err) {
            if (err.status !== 404) throw err;
          }
        }
        const key = JSON.stringify([cases, [...exports.entries()]]);
        if (key !== shownKey) {
          shownKey = key;
          show(cases);
        }
      }

      container.replaceChildren(
          C.h('p', {class: 'muted'},
              'Access to people\'s messages needs four eyes: a case with a legal basis, approved ' +
              'by someone of the other role (an administrator\'s case by an auditor, an ' +
              'auditor\'s by an administrator), before its export can start. Every step is in ' +
              'the audit log.'),
          caseForm(ctx, reload),
          listBox);
      let busy = false;
      // Every 2 s: an export's progress, and cases opened or approved by
      // someone else in the meantime.
      ctx.every(2000, async () => {
        if (busy) return;
        busy = true;
        try {
          await reload();
        } catch (err) {
          ctx.say('Cannot read the cases: ' + err.message + ' (' + err.code + ')', 'error');
        } finally {
          busy = false;
        }
      });
    },
  });
})();
