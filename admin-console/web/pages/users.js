// SPDX-License-Identifier: Apache-2.0
// Users: the list with a filter, adding a user (its enrollment invite shown to
// hand over), a user's devices, offboarding (deactivate) and reactivating.
'use strict';
(() => {
  const C = ChatProConsole;
  const h = C.h;

  C.registerPage({
    id: 'users',
    title: 'Users',
    order: 20,
    async render(container, ctx) {
      let users = [];
      const invitePanel = h('div', {id: 'invite-panel'});
      const devicesPanel = h('div', {id: 'devices-panel'});
      const listBox = h('div');
      const filter = h('input', {id: 'user-filter', type: 'search', autocomplete: 'off',
        oninput: () => showList()});

      function showInvite(reply, what) {
        invitePanel.textContent = '';
        const code = h('p', {class: 'code', id: 'invite-code'}, reply.invite);
        const copy = h('button', {type: 'button', onclick: async () => {
          try {
            await navigator.clipboard.writeText(reply.invite);
            ctx.say('The invite code is copied.', 'ok');
          } catch (e) {
            // No clipboard (e.g. no permission): select the code to copy by hand.
            const range = document.createRange();
            range.selectNodeContents(code);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            ctx.say('Copying is not allowed here; the code is selected: copy it by hand.', 'error');
          }
        }}, 'Copy the code');
        const heading = h('h2', {tabindex: '-1'}, 'Invite code for ' + reply.login);
        invitePanel.append(h('section', {class: 'card invite', 'aria-labelledby': 'invite-heading'},
            heading,
            h('p', null, what + ' Hand this one-time code to ' + reply.login +
                ' to enroll a device (chatpro enroll CODE, or the app):'),
            code,
            h('div', {class: 'toolbar'}, copy),
            reply.expires_at_us ?
                h('p', {class: 'muted'}, 'It can be used until ' + C.formatTime(reply.expires_at_us) + '.') :
                null));
        heading.id = 'invite-heading';
        heading.focus();
        showWebLink(reply);
      }

      // The same invite as a link to the web chat (web-chat/README.md: "The
      // invite link"), which the broker sends when it serves the web chat.
      function showWebLink(reply) {
        const card = invitePanel.querySelector('section');
        const url = reply.web_link;
        if (!card || !url) return;
        const link = h('p', {class: 'code', id: 'invite-web-link'}, url);
        const copy = h('button', {type: 'button', onclick: async () => {
          try {
            await navigator.clipboard.writeText(url);
            ctx.say('The web chat link is copied.', 'ok');
          } catch (e) {
            const range = document.createRange();
            range.selectNodeContents(link);
            window.getSelection().removeAllRanges();
            window.getSelection().addRange(range);
            ctx.say('Copying is not allowed here; the link is selected: copy it by hand.', 'error');
          }
        }}, 'Copy the web chat link');
        card.append(h('p', null, 'Or, to chat in a browser, ' + reply.login + ' opens this link:'),
            link, h('div', {class: 'toolbar'}, copy));
      }

      async function showDevices(login) {
        const reply = await C.api('GET', '/users/' + encodeURIComponent(login) + '/devices');
        devicesPanel.textContent = '';
        const heading = h('h2', {tabindex: '-1'}, 'Devices of ' + login);
        devicesPanel.append(heading, C.table('Devices of ' + login, [
          {label: 'Device', value: (d) => d.name || ('#' + d.id)},
          {label: 'Client', value: (d) => d.client_version},
          {label: 'Connected', value: (d) => (d.online ?
              h('span', {class: 'badge ok'}, 'online') : h('span', {class: 'badge'}, 'offline'))},
          {label: 'State', value: (d) => (d.active ? 'active' :
              'revoked ' + C.formatTime(d.revoked_at_us))},
          {label: 'Last seen', value: (d) => C.formatTime(d.last_seen_us)},
          {label: 'Last address', value: (d) => d.last_address},
          {label: 'Enrolled', value: (d) => C.formatTime(d.created_at_us)},
        ], reply.devices, login + ' has no devices.'),
        h('button', {type: 'button', onclick: () => { devicesPanel.textContent = ''; }},
            'Close the device list'));
        heading.focus();
      }

      async function offboard(user) {
        const sure = await ctx.confirm(
            'Offboard ' + user.display_name + ' (' + user.login + ')? Every device of theirs is ' +
            'cut off now and told to wipe its local copy; their messages stay with the ' +
            'organisation.', 'Offboard');
        if (!sure) return;
        try {
          const r = await C.api('POST', '/users/' + encodeURIComponent(user.login) + '/deactivate');
          invitePanel.textContent = '';  // an invite shown is cancelled with the user
          ctx.say(user.login + ' is offboarded: ' + r.devices_revoked + ' device(s) revoked, ' +
              r.sessions_closed + ' session(s) closed.', 'ok');
          await load();
        } catch (e) {
          if (e.status !== 401) ctx.say(e.message, 'error');
        }
      }

      async function reactivate(user) {
        try {
          const r = await C.api('POST', '/users/' + encodeURIComponent(user.login) + '/reactivate');
          await load();
          ctx.say(user.login + ' is active again.', 'ok');
          showInvite(r, user.login + ' is active again.');
        } catch (e) {
          if (e.status !== 401) ctx.say(e.message, 'error');
        }
      }

      function showList() {
        const q = filter.value.trim().toLowerCase();
        const shown = users.filter((u) => !q ||
            u.login.toLowerCase().includes(q) || u.display_name.toLowerCase().includes(q) ||
            u.role.includes(q) || (u.active ? 'active' : 'deactivated').includes(q));
        listBox.textContent = '';
        listBox.appendChild(C.table(
            'Users (' + shown.length + (shown.length === users.length ? '' : ' of ' + users.length) + ')', [
              {label: 'Login', value: (u) => u.login},
              {label: 'Display name', value: (u) => u.display_name},
              {label: 'Role', value: (u) => u.role},
              {label: 'State', value: (u) => (u.active ?
                  h('span', {class: 'badge ok'}, 'active') :
                  h('span', {class: 'badge bad'}, 'deactivated'))},
              // Only administrators may list other people's devices (the core's rule).
              {label: 'Devices', value: (u) => ctx.readOnly ? String(u.devices) : h('button', {
                type: 'button', class: 'link',
                'aria-label': 'Devices of ' + u.login,
                onclick: () => showDevices(u.login).catch((e) => {
                  if (e.status !== 401) ctx.say(e.message, 'error');
                })}, String(u.devices))},
              {label: 'Added', value: (u) => C.formatTime(u.created_at_us)},
              ctx.readOnly ? null : {label: 'Action', value: (u) => (u.active ?
                  h('button', {type: 'button', class: 'danger', 'aria-label': 'Offboard ' + u.login,
                    onclick: () => offboard(u)}, 'Offboard') :
                  h('button', {type: 'button', 'aria-label': 'Reactivate ' + u.login,
                    onclick: () => reactivate(u)}, 'Reactivate'))},
            ].filter(Boolean), shown, q ? 'No user matches the filter.' : 'No users yet.'));
      }

      async function load() {
        users = (await C.api('GET', '/users')).users;
        users.sort((a, b) => a.login.localeCompare(b.login));
        showList();
      }

      let addForm = null;
      if (!ctx.readOnly) {
        const login = h('input', {id: 'new-login', name: 'login', required: true,
          autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false'});
        const name = h('input', {id: 'new-display-name', name: 'display_name', required: true,
          autocomplete: 'off'});
        const role = h('select', {id: 'new-role', name: 'role'},
            h('option', {value: 'user'}, 'user'),
            h('option', {value: 'admin'}, 'admin'),
            h('option', {value: 'auditor'}, 'auditor'));
        addForm = h('form', {class: 'card form-grid', 'aria-labelledby': 'add-user-heading',
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              const r = await C.api('POST', '/users', {
                login: login.value.trim(), display_name: name.value.trim(), role: role.value,
              });
              login.value = '';
              name.value = '';
              role.value = 'user';
              await load();
              ctx.say(r.login + ' is added.', 'ok');
              showInvite(r, r.login + ' is added.');
            } catch (e) {
              if (e.status !== 401) ctx.say(e.message, 'error');
            }
          }},
        h('h2', {id: 'add-user-heading', class: 'span-all'}, 'Add a user'),
        h('div', {class: 'field'}, h('label', {for: 'new-login'}, 'Login'), login),
        h('div', {class: 'field'}, h('label', {for: 'new-display-name'}, 'Display name'), name),
        h('div', {class: 'field'}, h('label', {for: 'new-role'}, 'Role'), role),
        h('button', {type: 'submit', class: 'primary'}, 'Add user'));
      }

      container.append(...[
          invitePanel,
          addForm,
          h('div', {class: 'toolbar'},
              h('div', {class: 'field'}, h('label', {for: 'user-filter'}, 'Filter users'), filter)),
          listBox,
          devicesPanel,
      ].filter(Boolean));  // addForm is null for auditors
      await load();
    },
  });
})();
