/**
 * The status page's script [docs/status.md]: fetches /status.json and renders it with DOM calls only
 * (textContent, never innerHTML), so names and messages from the directory or from peers always show as
 * text. Known sections get their own view (permission matrix, call charts, reachability); any other
 * section is shown as a generic table, so a new field appears without a page change.
 * Plain browser JavaScript in a string: no build step, no dependency.
 */

export const STATUS_PAGE_SCRIPT = String.raw`'use strict';
(function () {
  var REFRESH_MS = 5000;
  var root = document.getElementById('sections');
  var timer;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    (children || []).forEach(function (c) { node.appendChild(toNode(c)); });
    return node;
  }
  function toNode(value) {
    if (value instanceof Node) return value;
    return document.createTextNode(text(value));
  }
  function text(value) {
    if (value === null || value === undefined) return '';
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }
  function badge(label, kind) { return el('span', { class: 'badge ' + (kind || '') }, [label]); }
  function mono(value) { return el('code', {}, [value]); }
  function ago(seconds) {
    if (seconds === null || seconds === undefined) return '';
    if (seconds < 120) return Math.round(seconds) + ' s ago';
    if (seconds < 7200) return Math.round(seconds / 60) + ' min ago';
    return Math.round(seconds / 3600) + ' h ago';
  }
  function since(iso, now) {
    if (!iso) return '';
    return ago((Date.parse(now) - Date.parse(iso)) / 1000);
  }
  function table(columns, rows) {
    var head = el('tr', {}, columns.map(function (c) { return el('th', {}, [c]); }));
    var body = rows.map(function (r) {
      return el('tr', {}, r.map(function (cell) {
        return el('td', typeof cell === 'number' ? { class: 'num' } : {}, [cell]);
      }));
    });
    return el('table', {}, [el('thead', {}, [head]), el('tbody', {}, body)]);
  }
  function section(title, id, children, wide) {
    return el('section', { id: 'section-' + id, class: wide ? 'wide' : '' }, [el('h2', {}, [title])].concat(children));
  }
  function empty(what) { return el('p', { class: 'muted' }, ['no ' + what]); }

  /** Any value: arrays of objects as tables, objects as key/value rows, the rest as text. */
  function generic(value) {
    if (Array.isArray(value)) {
      if (value.length === 0) return empty('entries');
      if (value.every(function (v) { return v && typeof v === 'object' && !Array.isArray(v); })) {
        var keys = [];
        value.forEach(function (v) { Object.keys(v).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); }); });
        return table(keys, value.map(function (v) { return keys.map(function (k) { return cell(v[k]); }); }));
      }
      return el('p', {}, [value.map(text).join(', ')]);
    }
    if (value && typeof value === 'object') {
      return table(['', ''], Object.keys(value).map(function (k) { return [k, cell(value[k])]; }));
    }
    return el('p', {}, [value]);
  }
  function cell(v) {
    if (Array.isArray(v) && v.every(function (x) { return typeof x !== 'object' || x === null; })) return v.join(', ');
    if (typeof v === 'boolean') return badge(v ? 'yes' : 'no', v ? 'ok' : 'bad');
    if (v && typeof v === 'object') return generic(v);
    return v;
  }

  function identity(d) {
    var certs = (d.certificates || []).map(function (c) {
      var days = c.expires_in_days;
      var kind = days === undefined ? '' : days < 0 ? 'bad' : days < 30 ? 'warn' : 'ok';
      return [c.channel, c.subject, mono(c.fingerprint), el('span', { class: kind }, [c.not_after + ' (' + days + ' days)']),
        badge(c.in_directory ? 'pinned' : 'not in directory', c.in_directory ? 'ok' : 'bad')];
    });
    return [el('p', {}, ['operator ', el('strong', {}, [d.name])]),
      certs.length ? table(['channel', 'subject', 'fingerprint', 'expires', 'directory'], certs) : empty('certificates')];
  }

  function directory(d, now) {
    var out = [];
    var facts = ['type ' + d.type, (d.operators || []).length + ' operators'];
    if (d.records !== undefined) facts.push(d.records + ' verified records');
    if (d.tip) facts.push('tip ' + d.tip.slice(0, 16));
    if (d.last_refresh) facts.push('refreshed ' + since(d.last_refresh, now));
    out.push(el('p', {}, [facts.join(' · ')]));
    if (d.last_error) out.push(el('p', { class: 'bad' }, ['last error: ' + d.last_error]));
    out.push(el('h3', {}, ['Operators']));
    out.push(table(['name', 'groups', 'channels', 'services', 'fingerprints'], (d.operators || []).map(function (o) {
      return [el('span', { class: 'operator' }, [o.name]), (o.groups || []).join(', '),
        (o.channels || []).map(function (c) { return c.type + (c.address ? ' ' + c.address : '') + (c.proxies && c.proxies.length ? ' via ' + c.proxies.join(', ') : ''); }).join('; '),
        (o.services || []).map(function (s) { return s.name + ' (' + s.methods.join(', ') + ')'; }).join('; '),
        el('span', {}, (o.fingerprints || []).map(function (f) { return el('div', {}, [mono(f.slice(0, 16) + '…')]); }))];
    })));
    out.push(el('h3', {}, ['Who may call what (rows call columns)']));
    out.push(matrix(d.operators || [], d.permissions || []));
    if (d.truncated) out.push(el('p', { class: 'warn' }, ['matrix truncated']));
    return out;
  }
  function matrix(operators, permissions) {
    var names = operators.map(function (o) { return o.name; });
    var lookup = {};
    permissions.forEach(function (p) { lookup[p.caller + '\u0000' + p.callee] = p.methods; });
    var head = el('tr', {}, [el('th', {}, ['caller \\ callee'])].concat(names.map(function (n) { return el('th', {}, [n]); })));
    var rows = names.map(function (caller) {
      return el('tr', {}, [el('th', { class: 'row' }, [caller])].concat(names.map(function (callee) {
        var methods = lookup[caller + '\u0000' + callee];
        return el('td', methods ? { title: methods.join(', ') } : {}, [methods ? methods.join(', ') : '·']);
      })));
    });
    return el('table', { class: 'matrix' }, [el('thead', {}, [head]), el('tbody', {}, rows)]);
  }

  function peers(list, now) {
    if (!list.length) return [empty('peers')];
    return [table(['peer', 'reachability', 'session', 'ServerCall', 'last call', 'latency', 'calls', 'errors', 'last error'],
      list.map(function (p) {
        var kind = p.reachable === true ? 'ok' : p.reachable === false ? 'bad' : '';
        var reach = el('span', {}, [badge(p.reachability, kind), p.via || '']);
        var sc = [];
        if (p.servercall_in) sc.push(badge('in', 'ok'));
        if (p.servercall_out) sc.push(badge('out ' + p.servercall_out, p.servercall_out === 'up' ? 'ok' : 'bad'));
        return [el('span', { class: 'peer' }, [p.name]), reach, p.session, el('span', {}, sc),
          p.last_call ? p.last_method + ' ' + p.last_outcome + ' ' + since(p.last_call, now) : '',
          p.latency_ms === undefined ? '' : p.latency_ms + ' ms', p.calls || 0, p.errors || 0, p.last_error || ''];
      }))];
  }

  function calls(d) {
    var minutes = d.minutes || [];
    var methods = {};
    minutes.forEach(function (m, i) {
      Object.keys(m.counts).forEach(function (key) {
        var cut = key.lastIndexOf(' ');
        var method = key.slice(0, cut);
        var status = key.slice(cut + 1);
        methods[method] = methods[method] || minutes.map(function () { return { ok: 0, err: 0 }; });
        if (status === 'ok' || status === 'none') methods[method][i].ok += m.counts[key];
        else methods[method][i].err += m.counts[key];
      });
    });
    var names = Object.keys(methods).sort();
    var latency = d.latency || [];
    var out = [el('p', { class: 'muted' }, ['per minute, last ' + minutes.length + ' minutes; green ok, red errors, blue average latency · in flight: ' + d.in_flight])];
    if (!names.length) return out.concat([empty('calls yet')]);
    return out.concat([el('div', { class: 'charts' }, names.map(function (n) {
      var avg = minutes.map(function (m, i) { var l = latency[i]; return l && l.avg_ms && typeof l.avg_ms[n] === 'number' ? l.avg_ms[n] : null; });
      return chart(n, methods[n], avg);
    }))]);
  }
  function latencyChart(avg) {
    var ns = 'http://www.w3.org/2000/svg';
    var w = 8, h = 30, max = 0, last = null;
    avg.forEach(function (v) { if (v !== null) { max = Math.max(max, v); last = v; } });
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'latency');
    svg.setAttribute('width', String(avg.length * w));
    svg.setAttribute('height', String(h));
    avg.forEach(function (v, i) {
      if (v === null || max === 0) return;
      var barH = Math.max(1, Math.round((v / max) * h));
      var r = document.createElementNS(ns, 'rect');
      r.setAttribute('class', 'latbar'); r.setAttribute('x', String(i * w)); r.setAttribute('y', String(h - barH));
      r.setAttribute('width', String(w - 1)); r.setAttribute('height', String(barH));
      var title = document.createElementNS(ns, 'title');
      title.textContent = v + ' ms';
      r.appendChild(title);
      svg.appendChild(r);
    });
    return [el('p', { class: 'muted' }, [last === null ? 'no latency' : 'avg ' + last + ' ms (last minute with calls), max ' + max + ' ms']), svg];
  }
  function chart(name, series, avg) {
    var ns = 'http://www.w3.org/2000/svg';
    var w = 8, h = 40, max = 1, total = 0, errors = 0;
    series.forEach(function (s) { max = Math.max(max, s.ok + s.err); total += s.ok + s.err; errors += s.err; });
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', String(series.length * w));
    svg.setAttribute('height', String(h));
    series.forEach(function (s, i) {
      var okH = Math.round((s.ok / max) * h), errH = Math.round((s.err / max) * h);
      [['okbar', h - okH, okH], ['errbar', h - okH - errH, errH]].forEach(function (b) {
        if (!b[2]) return;
        var r = document.createElementNS(ns, 'rect');
        r.setAttribute('class', b[0]); r.setAttribute('x', String(i * w)); r.setAttribute('y', String(b[1]));
        r.setAttribute('width', String(w - 1)); r.setAttribute('height', String(b[2]));
        svg.appendChild(r);
      });
    });
    return el('div', { class: 'chart' }, [el('p', {}, [el('strong', {}, [name]), ' ' + total + ' calls, ' + errors + ' errors']), svg]
      .concat(avg ? latencyChart(avg) : []));
  }

  var VIEWS = {
    'eps.identity': function (d) { return identity(d); },
    'eps.directory': function (d, now) { return directory(d, now); },
    'eps.peers': function (d, now) { return peers(d, now); },
    'eps.calls': function (d) { return calls(d); },
  };
  var TITLES = { identity: 'Identity', directory: 'Directory', peers: 'Peers', streams: 'ServerCall streams',
    tunnels: 'Tunnels', calls: 'Calls', errors: 'Last errors', store: 'Store', chains: 'Chains',
    submissions: 'Last submissions', proxy: 'Proxy', announcements: 'Announced domains', tokens: 'Tokens waiting',
    rate_limits: 'Rate limits', directory_alarms: 'Directory alarms', async_store: 'Asynchronous calls store' };
  var WIDE = { directory: 1, peers: 1, calls: 1, errors: 1, directory_alarms: 1, announcements: 1, submissions: 1 };
  var HEADER = ['program', 'name', 'version', 'generated_at', 'uptime_s'];

  function render(doc) {
    document.title = doc.name + ' · ' + doc.program + ' status';
    document.getElementById('title').textContent = doc.program + ' ' + doc.name;
    document.getElementById('summary').textContent = 'version ' + doc.version + ' · up ' + doc.uptime_s +
      ' s · data of ' + new Date(doc.generated_at).toLocaleTimeString();
    var parts = Object.keys(doc).filter(function (k) { return HEADER.indexOf(k) < 0; }).map(function (key) {
      var view = VIEWS[doc.program + '.' + key];
      var body = view ? view(doc[key], doc.generated_at) : [generic(doc[key])];
      return section(TITLES[key] || key, key, body, WIDE[key]);
    });
    root.replaceChildren.apply(root, parts);
  }

  function load() {
    var problem = document.getElementById('problem');
    return fetch('/status.json', { cache: 'no-store' }).then(function (res) {
      if (!res.ok) throw new Error('/status.json answered HTTP ' + res.status);
      return res.json();
    }).then(function (doc) {
      render(doc);
      problem.hidden = true;
      document.body.setAttribute('data-loaded', doc.generated_at);
    }).catch(function (e) {
      problem.textContent = 'cannot load /status.json: ' + e.message;
      problem.hidden = false;
    });
  }
  function schedule() {
    clearInterval(timer);
    if (document.getElementById('auto').checked) timer = setInterval(load, REFRESH_MS);
  }
  document.getElementById('auto').addEventListener('change', schedule);
  load();
  schedule();
})();
`;
