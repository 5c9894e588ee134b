// SPDX-License-Identifier: Apache-2.0
// Groups: every group of the organisation with its members and owners
// (GET /groups). Never a message: the broker does not send any here.
'use strict';

(() => {
  const {api, h, table, formatTime} = ChatProConsole;

  ChatProConsole.registerPage({
    id: 'groups',
    title: 'Groups',
    order: 30,
    async render(container) {
      const filter = h('input', {id: 'groups-filter', type: 'search', autocomplete: 'off'});
      const count = h('p', {class: 'muted', role: 'status'});
      const list = h('div');
      const details = h('section', {class: 'card groups-details', 'aria-labelledby': 'groups-details-title', hidden: true});
      let groups = [];

      function showDetails(group, opener) {
        const owners = new Set(group.owners);
        const close = h('button', {type: 'button', onclick: () => {
          details.hidden = true;
          details.textContent = '';
          if (document.contains(opener)) opener.focus();
        }}, 'Close');
        details.textContent = '';
        details.append(
            h('h2', {id: 'groups-details-title', tabindex: '-1'}, group.name),
            h('p', {class: 'muted'}, 'Conversation ' + group.conversation_id + ', created ' +
                formatTime(group.created_at_us) + '. ' + group.members.length + ' members, ' +
                group.owners.length + ' owners.'),
            h('h3', null, 'Owners'),
            h('ul', null, group.owners.map((login) => h('li', null, login))),
            h('h3', null, 'Members'),
            h('ul', {class: 'groups-members'}, group.members.map((login) => h('li', null, login,
                owners.has(login) ? [' ', h('span', {class: 'badge ok'}, 'owner')] : null))),
            h('div', {class: 'actions'}, close));
        details.hidden = false;
        details.querySelector('h2').focus();
      }

      function draw() {
        const q = filter.value.trim().toLowerCase();
        const shown = groups.filter((g) => q === '' || g.name.toLowerCase().includes(q) ||
            g.members.some((m) => m.toLowerCase().includes(q)));
        count.textContent = shown.length === groups.length
            ? groups.length + ' groups'
            : shown.length + ' of ' + groups.length + ' groups';
        list.textContent = '';
        list.appendChild(table('Groups, their members and owners', [
          {label: 'Group', value: (g) => g.name},
          {label: 'Number', value: (g) => String(g.conversation_id)},
          {label: 'Members', value: (g) => String(g.members.length)},
          {label: 'Owners', value: (g) => g.owners.join(', ')},
          {label: 'Created', value: (g) => formatTime(g.created_at_us)},
          {label: 'Details', value: (g) => h('button', {type: 'button', class: 'link',
            'aria-label': 'Members of ' + g.name,
            onclick: (e) => showDetails(g, e.currentTarget)}, 'Members')},
        ], shown, q === '' ? 'There are no groups yet.' : 'No group matches the filter.'));
      }

      filter.addEventListener('input', draw);
      container.append(
          h('p', {class: 'muted'}, 'Who is in which group and who owns it. ' +
              'Messages are never shown here.'),
          h('div', {class: 'toolbar'}, h('div', {class: 'field'},
              h('label', {for: 'groups-filter'}, 'Filter by group name or member login'), filter)),
          count, list, details);
      groups = (await api('GET', '/groups')).groups;
      draw();
    },
  });
})();
