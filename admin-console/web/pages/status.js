// SPDX-License-Identifier: Apache-2.0
// Status: the broker's version and uptime, storage, the console's sessions
// and the effective (non-secret) configuration, from GET /status.
'use strict';
(() => {
  const C = ChatProConsole;
  const h = C.h;

  function stat(label, value, id) {
    return h('div', {class: 'stat'}, h('span', {class: 'label'}, label),
        h('span', {class: 'value', id: id}, value));
  }

  C.registerPage({
    id: 'status',
    title: 'Status',
    order: 90,
    render(container, ctx) {
      const box = h('div');
      container.append(box);
      ctx.every(10000, async () => {
        const s = await C.api('GET', '/status');
        const used = s.data_dir_capacity_bytes > 0 ?
            ' (' + Math.round(100 * s.data_dir_free_bytes / s.data_dir_capacity_bytes) + '% of ' +
            C.formatBytes(s.data_dir_capacity_bytes) + ')' : '';
        box.textContent = '';
        box.append(
            h('div', {class: 'stats'},
                stat('Version', s.version, 'status-version'),
                stat('Uptime', C.formatDuration(s.uptime_s), 'status-uptime'),
                stat('Store size', C.formatBytes(s.store_bytes), 'status-store'),
                stat('Data directory free', C.formatBytes(s.data_dir_free_bytes) + used,
                    'status-free'),
                stat('Console sessions', String(s.console_sessions), 'status-sessions')),
            h('p', {class: 'muted'}, 'Running since ' + C.formatTime(s.started_at_us) + '.'),
            C.table('Console sessions', [
              {label: 'Login', value: (x) => x.login},
              {label: 'Name', value: (x) => x.display_name},
              {label: 'Role', value: (x) => x.role},
              {label: 'Signed in', value: (x) => C.formatTime(x.created_at_us)},
              {label: 'Last request', value: (x) => C.formatTime(x.last_used_at_us)},
              {label: 'Ends unless used', value: (x) => C.formatTime(x.expires_at_us)},
            ], s.sessions, 'No console sessions.'),
            C.table('Effective configuration (no keys or passwords)', [
              {label: 'Setting', value: (x) => h('code', null, x.key)},
              {label: 'Value', value: (x) => x.value === '' ? h('span', {class: 'muted'}, '(not set)') : x.value},
            ], s.settings, 'No settings reported.'));
      });
    },
  });
})();
