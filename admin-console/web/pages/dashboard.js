// SPDX-License-Identifier: Apache-2.0
// The dashboard: the broker's counters every 2 s (GET /dashboard). The server
// answers counters since the start; rates and the latency quantiles of the
// last interval are computed here from the differences of two answers.
'use strict';
(() => {
  const C = ChatProConsole;
  const h = C.h;

  // The upper bound of the bucket holding quantile q of the counts, or null.
  function quantile(bounds, counts, q) {
    let total = 0;
    for (const n of counts) total += n;
    if (total === 0) return null;
    const rank = Math.max(1, Math.floor(q * total));
    let seen = 0;
    for (let i = 0; i < counts.length; ++i) {
      seen += counts[i];
      if (seen >= rank) return bounds[i];
    }
    return bounds[bounds.length - 1];
  }

  function formatMicros(us) {
    if (us < 1000) return us + ' µs';
    if (us < 1000000) return (us / 1000).toFixed(us < 10000 ? 1 : 0) + ' ms';
    return (us / 1000000).toFixed(1) + ' s';
  }

  function rate(n) {
    return (n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString()) + ' /s';
  }

  C.registerPage({
    id: 'dashboard',
    title: 'Dashboard',
    order: 10,
    render(container, ctx) {
      const values = {};
      function tile(key, label) {
        values[key] = h('span', {class: 'value', id: 'dash-' + key}, '…');
        return h('div', {class: 'stat'}, h('span', {class: 'label'}, label), values[key]);
      }
      const updated = h('p', {class: 'muted'}, 'Measuring…');
      const refusing = h('p', {class: 'message error', hidden: true},
          'The broker refuses new messages: it cannot store them (data directory full or store ' +
          'failing).');
      const errorsBox = h('div');
      container.append(
          h('p', {class: 'muted'},
              'Updated every 2 seconds. Rates and latencies are over the last interval.'),
          refusing,
          h('div', {class: 'stats'},
              tile('devices', 'Connected devices'),
              tile('accepted', 'Messages accepted'),
              tile('delivered', 'Messages delivered'),
              tile('p50', 'Send latency p50'),
              tile('p99', 'Send latency p99'),
              tile('errors', 'Errors'),
              tile('store', 'Store size'),
              tile('free', 'Data directory free')),
          h('h2', null, 'Errors by code'),
          errorsBox,
          updated);

      let previous = null;
      ctx.every(2000, async () => {
        const d = await C.api('GET', '/dashboard');
        values.devices.textContent = String(d.connected_devices);
        values.store.textContent = C.formatBytes(d.store_bytes);
        values.free.textContent = C.formatBytes(d.data_dir_free_bytes);
        refusing.hidden = !d.refusing_messages;
        const codes = Object.keys(d.errors_by_code);
        let rows;
        if (previous && d.at_us > previous.at_us) {
          const seconds = (d.at_us - previous.at_us) / 1e6;
          values.accepted.textContent = rate((d.messages_accepted - previous.messages_accepted) / seconds);
          values.delivered.textContent =
              rate((d.messages_delivered - previous.messages_delivered) / seconds);
          values.errors.textContent = rate((d.errors - previous.errors) / seconds);
          const counts = d.send_latency.bucket_counts.map(
              (n, i) => n - previous.send_latency.bucket_counts[i]);
          const p50 = quantile(d.send_latency.bucket_le_us, counts, 0.5);
          const p99 = quantile(d.send_latency.bucket_le_us, counts, 0.99);
          values.p50.textContent = p50 === null ? 'no sends' : 'under ' + formatMicros(p50);
          values.p99.textContent = p99 === null ? 'no sends' : 'under ' + formatMicros(p99);
          rows = codes.map((code) => ({
            code: code,
            rate: (d.errors_by_code[code] - (previous.errors_by_code[code] || 0)) / seconds,
            total: d.errors_by_code[code],
          }));
        } else {
          rows = codes.map((code) => ({code: code, rate: null, total: d.errors_by_code[code]}));
        }
        rows = rows.filter((r) => r.total > 0);
        errorsBox.textContent = '';
        errorsBox.appendChild(C.table('Errors answered, by code', [
          {label: 'Code', value: (r) => r.code},
          {label: 'Now', value: (r) => (r.rate === null ? '…' : rate(r.rate))},
          {label: 'Since the start', value: (r) => r.total.toLocaleString()},
        ], rows, 'No errors since the broker started.'));
        updated.textContent = 'Updated ' + C.formatTime(d.at_us) + '.';
        previous = d;
      });
    },
  });
})();
