// SPDX-License-Identifier: Apache-2.0
// Working hours: the organisation's working-hours profiles and urgent policy
// as configured (GET /schedules), a person's effective schedule for
// administrators (GET /users/{login}/schedule), and the right-to-disconnect
// report for a date range (GET /reports/disconnect): per sender and per
// group, the messages that reached people outside their working hours.
'use strict';

(() => {
  const {api, h, table, formatTime} = ChatProConsole;
  const DAY_US = 86400 * 1000 * 1000;
  const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

  function stat(label, value) {
    return h('div', {class: 'stat'}, h('span', {class: 'label'}, label),
        h('span', {class: 'value'}, String(value)));
  }

  function hhmm(minute) {
    const pad = (n) => String(n).padStart(2, '0');
    return pad(Math.floor(minute / 60)) + ':' + pad(minute % 60);
  }

  function periods(list) {
    if (!list || list.length === 0) return 'off';
    return list.map((p) => hhmm(p.start_minute) + '-' + hhmm(p.end_minute)).join(', ');
  }

  // 'YYYY-MM-DD' of a Date, in UTC (the report counts UTC days).
  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  // Microseconds at 00:00 UTC of an 'YYYY-MM-DD'; NaN if it is not one.
  function dayStartUs(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
    if (!m) return NaN;
    return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) * 1000;
  }

  function field(id, label, input) {
    input.id = id;
    return h('div', {class: 'field'}, h('label', {for: id}, label), input);
  }

  function defaultsSection(data) {
    const section = h('section', {'aria-labelledby': 'hours-defaults-title'},
        h('h2', {id: 'hours-defaults-title'}, 'Working-hours profiles'));
    if (data.profiles.length === 0) {
      section.appendChild(h('p', null, 'No working-hours profiles are configured: everyone is ' +
          'always on duty and nobody may send urgent messages.'));
      return section;
    }
    section.append(
        h('p', {class: 'muted'}, 'As configured in the broker\'s [schedule.NAME] sections. ' +
            'The default profile is for everyone another profile does not name.'),
        table('Profiles', [
          {label: 'Profile', value: (p) => [p.name, p.default ? [' ', h('span', {class: 'badge ok'}, 'default')] : null]},
          {label: 'Time zone', value: (p) => p.time_zone},
          {label: 'Mon', value: (p) => p.week.mon},
          {label: 'Tue', value: (p) => p.week.tue},
          {label: 'Wed', value: (p) => p.week.wed},
          {label: 'Thu', value: (p) => p.week.thu},
          {label: 'Fri', value: (p) => p.week.fri},
          {label: 'Sat', value: (p) => p.week.sat},
          {label: 'Sun', value: (p) => p.week.sun},
          {label: 'Holidays', value: (p) => p.holidays},
          {label: 'Members', value: (p) => p.default ? 'everyone else' : p.members},
          {label: 'People may change', value: (p) => p.may_change || 'nothing'},
        ], data.profiles),
        h('p', null, 'Urgent messages, which reach people also off duty, may be sent by: ' +
            (data.urgent_allowed.length > 0 ? data.urgent_allowed.join(', ') : 'nobody') + '.'));
    return section;
  }

  function scheduleSection(ctx) {
    const section = h('section', {'aria-labelledby': 'hours-person-title'},
        h('h2', {id: 'hours-person-title'}, 'A person\'s working hours'));
    if (ctx.readOnly) {
      section.appendChild(h('p', {class: 'muted'},
          'Only administrators may read other people\'s working hours.'));
      return section;
    }
    const login = h('input', {required: true, autocomplete: 'off', maxlength: 32});
    const out = h('div', {'aria-live': 'polite'});
    const form = h('form', {class: 'toolbar'}, field('hours-login', 'Login', login),
        h('button', {type: 'submit', class: 'primary'}, 'Show'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      out.textContent = '';
      try {
        const info = await api('GET', '/users/' + encodeURIComponent(login.value.trim()) + '/schedule');
        const s = info.schedule || {week: [], days_off: [], holidays: [], shifts: [], may_change: []};
        const byDay = new Map(s.week.map((d) => [d.weekday, d.periods]));
        out.appendChild(h('div', null,
            h('p', null, info.login + ' is ',
                info.on_duty ? h('span', {class: 'badge ok'}, 'on duty') : h('span', {class: 'badge warn'}, 'off duty'),
                info.until_us ? ' until ' + formatTime(info.until_us) : '',
                s.profile ? '. Profile ' + s.profile + ', time zone ' + s.time_zone + '.'
                  : '. No profile names them: always on duty.'),
            s.profile ? table('Week of ' + info.login, [
              {label: 'Day', value: (d) => d},
              {label: 'Working hours', value: (d) => periods(byDay.get(WEEKDAYS.indexOf(d)))},
            ], WEEKDAYS) : null,
            s.days_off.length ? h('p', null, 'Days off: ' + s.days_off.join(', ')) : null,
            s.holidays.length ? h('p', null, 'Holidays: ' + s.holidays.join(', ')) : null,
            s.shifts.length ? table('Changed days', [
              {label: 'Date', value: (x) => x.date},
              {label: 'Working hours', value: (x) => periods(x.periods)},
            ], s.shifts) : null,
            s.profile ? h('p', {class: 'muted'}, 'They may change: ' +
                (s.may_change.length ? s.may_change.join(', ') : 'nothing') + '.') : null));
      } catch (err) {
        if (err.status !== 401) ctx.say(err.message, 'error');
      }
    });
    section.append(form, out);
    return section;
  }

  function reportSection(ctx) {
    const today = new Date();
    const weekAgo = new Date(today.getTime() - 6 * 86400 * 1000);
    const from = h('input', {type: 'date', required: true, value: isoDay(weekAgo)});
    const to = h('input', {type: 'date', required: true, value: isoDay(today)});
    const out = h('div', {'aria-live': 'polite'});
    const form = h('form', {class: 'toolbar'},
        field('hours-from', 'From (UTC day)', from),
        field('hours-to', 'To (UTC day, included)', to),
        h('button', {type: 'submit', class: 'primary'}, 'Show report'));

    async function load() {
      const fromUs = dayStartUs(from.value);
      const toUs = dayStartUs(to.value) + DAY_US;  // the whole last day
      if (isNaN(fromUs) || isNaN(toUs)) {
        ctx.say('Choose both days of the range.', 'error');
        return;
      }
      if (fromUs >= toUs) {
        ctx.say('The first day must not be after the last.', 'error');
        return;
      }
      const r = await api('GET', '/reports/disconnect?from_us=' + fromUs + '&to_us=' + toUs);
      const range = from.value + ' to ' + to.value;
      out.textContent = '';
      out.append(
          h('p', null, 'From ' + range + ' (UTC days):'),
          h('div', {class: 'stats'},
              stat('Messages to someone off duty', r.messages),
              stat('Off-duty recipients', r.recipients),
              stat('Of those messages, urgent', r.urgent)),
          table('Per sender', [
            {label: 'Sender', value: (c) => c.name},
            {label: 'Messages', value: (c) => String(c.messages)},
            {label: 'Off-duty recipients', value: (c) => String(c.recipients)},
            {label: 'Urgent', value: (c) => String(c.urgent)},
          ], r.senders, 'Nobody wrote to anyone off duty in these days.'),
          table('Per group', [
            {label: 'Group', value: (c) => c.name},
            {label: 'Number', value: (c) => String(c.conversation_id)},
            {label: 'Messages', value: (c) => String(c.messages)},
            {label: 'Off-duty recipients', value: (c) => String(c.recipients)},
            {label: 'Urgent', value: (c) => String(c.urgent)},
          ], r.groups, 'No group message reached anyone off duty in these days.'));
    }

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      load().catch((err) => {
        if (err.status !== 401) ctx.say(err.message, 'error');
      });
    });
    const section = h('section', {'aria-labelledby': 'hours-report-title'},
        h('h2', {id: 'hours-report-title'}, 'Right to disconnect'),
        h('p', {class: 'muted'}, 'Messages that reached people outside their working hours, ' +
            'counted per UTC day. Direct chats count per sender only.'),
        form, out);
    return {section, load};
  }

  ChatProConsole.registerPage({
    id: 'hours',
    title: 'Working hours',
    order: 70,
    async render(container, ctx) {
      const report = reportSection(ctx);
      const defaults = h('div');
      container.append(defaults, scheduleSection(ctx), report.section);
      defaults.appendChild(defaultsSection(await api('GET', '/schedules')));
      await report.load();
    },
  });
})();
