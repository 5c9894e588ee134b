// SPDX-License-Identifier: Apache-2.0
// Retention: the policy plugins the broker loaded (GET /plugins), a dry run
// that counts what the policies would remove now (POST /retention/dry-run),
// and a real run (POST /retention/run) after a confirmation that states what
// a dry run just counted. Only administrators run retention, dry runs
// included: the broker refuses auditors.
'use strict';

(() => {
  const {api, h, table, formatTime, formatBytes} = ChatProConsole;

  function stat(label, value) {
    return h('div', {class: 'stat'}, h('span', {class: 'label'}, label),
        h('span', {class: 'value'}, String(value)));
  }

  // What a report counted, in words, for the confirmation and the results.
  function summary(r) {
    return r.messages_deleted + (r.dry_run ? ' messages to remove, ' : ' messages removed, ') +
        r.attachments_stripped + (r.dry_run ? ' attachments to strip (' : ' attachments stripped (') +
        formatBytes(r.attachment_bytes) + ') in ' + r.conversations + ' conversations; ' +
        r.held_protected + ' messages kept by legal holds';
  }

  function report(r) {
    return h('div', null,
        h('p', null, (r.dry_run ? 'Dry run' : 'Run') + ' finished ' + formatTime(r.finished_at_us) +
            '. ' + r.messages_examined + ' messages examined.'),
        h('div', {class: 'stats'},
            stat(r.dry_run ? 'Messages it would remove' : 'Messages removed', r.messages_deleted),
            stat(r.dry_run ? 'Attachments it would strip' : 'Attachments stripped',
                r.attachments_stripped),
            stat('Attachment bytes', formatBytes(r.attachment_bytes)),
            stat('Conversations', r.conversations),
            stat('Kept by legal holds', r.held_protected)),
        table('By policy', [
          {label: 'Policy', value: (p) => p.policy},
          {label: r.dry_run ? 'Would remove' : 'Removed', value: (p) => String(p.deleted)},
          {label: r.dry_run ? 'Would strip' : 'Stripped', value: (p) => String(p.stripped)},
        ], r.policies, r.dry_run ? 'No policy would remove anything.' : 'No policy removed anything.'));
  }

  ChatProConsole.registerPage({
    id: 'retention',
    title: 'Retention',
    order: 40,
    async render(container, ctx) {
      const plugins = h('div');
      const result = h('section', {class: 'card', 'aria-live': 'polite', hidden: true});
      const runs = [];  // runs started from this page, newest first
      const history = h('div');
      let busy = false;

      function drawHistory() {
        history.textContent = '';
        if (runs.length === 0) return;
        history.appendChild(table('Runs started from this page', [
          {label: 'Finished', value: (r) => formatTime(r.finished_at_us)},
          {label: 'Kind', value: (r) => r.dry_run ? 'dry run' : h('span', {class: 'badge warn'}, 'real run')},
          {label: 'Messages', value: (r) => String(r.messages_deleted)},
          {label: 'Attachments', value: (r) => String(r.attachments_stripped)},
          {label: 'Bytes', value: (r) => formatBytes(r.attachment_bytes)},
          {label: 'Conversations', value: (r) => String(r.conversations)},
          {label: 'Kept by holds', value: (r) => String(r.held_protected)},
        ], runs));
      }

      function show(r) {
        runs.unshift(r);
        result.textContent = '';
        result.append(h('h2', null, r.dry_run ? 'What a run would remove now' : 'What the run removed'),
            report(r));
        result.hidden = false;
        drawHistory();
      }

      async function dryRun() {
        const r = await api('POST', '/retention/dry-run');
        show(r);
        return r;
      }

      async function guarded(button, work) {
        if (busy) return;
        busy = true;
        button.disabled = true;
        ctx.say('');
        try {
          await work();
        } catch (e) {
          if (e.status !== 401) ctx.say(e.message, 'error');
        } finally {
          busy = false;
          button.disabled = false;
        }
      }

      const dryButton = h('button', {type: 'button', class: 'primary'}, 'Count what a run would remove');
      dryButton.addEventListener('click', () => guarded(dryButton, async () => {
        const r = await dryRun();
        ctx.say('Dry run done: nothing was removed. It counted ' + summary(r) + '.', 'ok');
      }));
      const runButton = h('button', {type: 'button', class: 'danger'}, 'Run retention now…');
      runButton.addEventListener('click', () => guarded(runButton, async () => {
        // The question states what a dry run counted just now.
        const dry = await dryRun();
        const ok = await ctx.confirm('Run the retention policies now? A dry run just counted ' +
            summary(dry) + '. What is removed cannot be brought back.', 'Remove now');
        if (!ok) {
          ctx.say('Nothing was removed.', 'ok');
          return;
        }
        const r = await api('POST', '/retention/run');
        show(r);
        ctx.say('Retention ran: ' + summary(r) + '.', 'ok');
      }));

      container.append(
          h('h2', null, 'Policies'),
          h('p', {class: 'muted'}, 'The policy plugins of the broker\'s configuration. ' +
              'Retention hooks remove messages by policy; accept hooks refuse or flag messages ' +
              'when they are sent.'),
          plugins,
          h('h2', null, 'Run retention'),
          ctx.readOnly
              ? h('p', {class: 'muted'}, 'Only administrators run retention, dry runs included.')
              : h('div', {class: 'toolbar'}, dryButton, runButton),
          result, history);

      const list = (await api('GET', '/plugins')).plugins;
      plugins.appendChild(table('Loaded policy plugins', [
        {label: 'Name', value: (p) => p.name},
        {label: 'Plugin', value: (p) => p.plugin},
        {label: 'Hooks', value: (p) => [
          p.retention_hook ? h('span', {class: 'badge'}, 'retention') : null,
          p.retention_hook && p.accept_hook ? ' ' : null,
          p.accept_hook ? h('span', {class: 'badge'}, 'accept') : null]},
        {label: 'Failures', value: (p) => p.failures > 0
          ? h('span', {class: 'badge bad'}, String(p.failures)) : '0'},
        {label: 'Library', value: (p) => h('span', {class: 'retention-library'}, p.library)},
      ], list, 'No policy plugins are configured: retention removes nothing.'));
    },
  });
})();
