// SPDX-License-Identifier: Apache-2.0
// Legal holds: the holds in force (and, on request, the lifted ones) from
// GET /holds; administrators place a hold on a person or a conversation
// (POST /holds) and lift one with a reason (POST /holds/{id}/lift). While a
// hold is in force no policy removes what it covers.
'use strict';

(() => {
  const {api, h, table, formatTime} = ChatProConsole;

  function field(id, label, input, hint) {
    input.id = id;
    return h('div', {class: 'field'}, h('label', {for: id}, label), input,
        hint ? h('span', {class: 'muted', id: id + '-hint'}, hint) : null);
  }

  function target(hold) {
    return hold.target === 'user' ? 'person ' + hold.login : 'conversation ' + hold.conversation_id;
  }

  ChatProConsole.registerPage({
    id: 'holds',
    title: 'Legal holds',
    order: 50,
    async render(container, ctx) {
      const showLifted = h('input', {id: 'holds-lifted', type: 'checkbox'});
      const list = h('div');
      const lifting = h('section', {class: 'card', hidden: true, 'aria-labelledby': 'holds-lift-title'});

      async function load() {
        const holds = (await api('GET', '/holds' + (showLifted.checked ? '?include_lifted=1' : ''))).holds;
        list.textContent = '';
        list.appendChild(table(showLifted.checked ? 'All legal holds' : 'Legal holds in force', [
          {label: 'Hold', value: (x) => String(x.id)},
          {label: 'On', value: target},
          {label: 'Case', value: (x) => x.case_ref},
          {label: 'Reason', value: (x) => x.reason},
          {label: 'Placed', value: (x) => formatTime(x.created_at_us) + ' by ' + x.created_by},
          {label: 'State', value: (x) => x.in_force
            ? h('span', {class: 'badge warn'}, 'in force')
            : h('span', null, h('span', {class: 'badge'}, 'lifted'), ' ' +
                formatTime(x.lifted_at_us) + ' by ' + x.lifted_by)},
          ctx.readOnly ? null : {label: 'Action', value: (x) => x.in_force
            ? h('button', {type: 'button', class: 'link', 'aria-label': 'Lift hold ' + x.id,
              onclick: (e) => askLift(x, e.currentTarget)}, 'Lift…')
            : ''},
        ].filter(Boolean), holds, showLifted.checked ? 'There are no legal holds.'
            : 'No legal hold is in force.'));
      }

      function askLift(hold, opener) {
        const reason = h('input', {required: true, maxlength: 500});
        const cancel = h('button', {type: 'button'}, 'Cancel');
        const form = h('form', {class: 'form-grid'},
            field('holds-lift-reason', 'Why is it lifted?', reason),
            h('div', {class: 'actions'}, cancel, h('button', {type: 'submit', class: 'danger'}, 'Lift hold')));
        const close = () => {
          lifting.hidden = true;
          lifting.textContent = '';
          if (document.contains(opener)) opener.focus();
        };
        cancel.addEventListener('click', close);
        form.addEventListener('submit', async (e) => {
          e.preventDefault();
          const ok = await ctx.confirm('Lift hold ' + hold.id + ' on ' + target(hold) + ' (case ' +
              hold.case_ref + ')? From then on retention may remove what it kept.', 'Lift hold');
          if (!ok) return;
          try {
            await api('POST', '/holds/' + hold.id + '/lift', {reason: reason.value});
            close();
            ctx.say('Hold ' + hold.id + ' on ' + target(hold) + ' is lifted.', 'ok');
            await load();
          } catch (err) {
            if (err.status !== 401) ctx.say(err.message, 'error');
          }
        });
        lifting.textContent = '';
        lifting.append(h('h2', {id: 'holds-lift-title'}, 'Lift hold ' + hold.id + ' on ' + target(hold)), form);
        lifting.hidden = false;
        reason.focus();
      }

      function placeForm() {
        const onUser = h('input', {type: 'radio', name: 'holds-target', id: 'holds-on-user', value: 'user', checked: true});
        const onChat = h('input', {type: 'radio', name: 'holds-target', id: 'holds-on-chat', value: 'conversation'});
        const login = h('input', {autocomplete: 'off', maxlength: 32});
        const conversation = h('input', {type: 'number', min: 1, step: 1, inputmode: 'numeric'});
        const caseRef = h('input', {required: true, maxlength: 200});
        const reason = h('input', {maxlength: 500});
        const loginField = field('holds-login', 'Login of the person', login,
            'Everything they sent or received.');
        const chatField = field('holds-conversation', 'Conversation number', conversation,
            'The Groups page shows each group\'s number.');
        const sync = () => {
          loginField.hidden = !onUser.checked;
          chatField.hidden = onUser.checked;
          login.required = onUser.checked;
          conversation.required = !onUser.checked;
        };
        onUser.addEventListener('change', sync);
        onChat.addEventListener('change', sync);
        sync();
        const form = h('form', {class: 'card form-grid', 'aria-labelledby': 'holds-place-title'},
            h('h2', {id: 'holds-place-title'}, 'Place a legal hold'),
            h('fieldset', {class: 'holds-target'}, h('legend', null, 'Hold'),
                h('label', {for: 'holds-on-user'}, onUser, ' a person'),
                h('label', {for: 'holds-on-chat'}, onChat, ' a conversation')),
            loginField, chatField,
            field('holds-case', 'Case reference', caseRef),
            field('holds-reason', 'Reason', reason),
            h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Place hold')));
        form.addEventListener('submit', async (e) => {
          e.preventDefault();
          const body = {target: onUser.checked ? 'user' : 'conversation',
            case_ref: caseRef.value, reason: reason.value};
          if (onUser.checked) body.login = login.value.trim();
          else body.conversation_id = Number(conversation.value);
          try {
            const hold = await api('POST', '/holds', body);
            ctx.say('Hold ' + hold.id + ' placed on ' + target(hold) + ' (case ' + hold.case_ref + ').', 'ok');
            form.reset();
            sync();
            await load();
          } catch (err) {
            if (err.status !== 401) ctx.say(err.message, 'error');
          }
        });
        return form;
      }

      showLifted.addEventListener('change', () => load().catch((e) => {
        if (e.status !== 401) ctx.say(e.message, 'error');
      }));
      container.append(
          h('p', {class: 'muted'}, 'While a hold is in force, no retention policy removes what it ' +
              'covers: everything a person sent or received, or a whole conversation.'),
          h('div', {class: 'toolbar'}, h('label', {for: 'holds-lifted', class: 'holds-toggle'}, showLifted, ' Show lifted holds too')),
          list, lifting);
      if (!ctx.readOnly) container.appendChild(placeForm());
      await load();
    },
  });
})();
