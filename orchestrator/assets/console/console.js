// Holdfast console: progressive enhancement of the server-rendered pages.
//
// - <form data-api="METHOD /api/v1/..."> sends its fields as JSON to the REST API with
//   the session's CSRF token (a dotted name nests: `credential.user`, and data-key adds
//   a literal map key: name="mapping.floating_ips" data-key="10.0.0.5"; data-type `number`,
//   `array`, `lines` (one item per line or comma), `json`), shows the API's error message in the form, and after
//   success does what data-success says (reload, redirect:URL, secret:URL, reset, stay:
//   a toast only — the page follows a live stream —, script or script:URL: show the
//   returned cleanup_script in #script-dialog, then stay or go to URL); data-type
//   `local-time` sends a datetime-local value as RFC 3339 UTC. <fieldset data-list>
//   sends a list of objects (the clusters' storage metadata entries, typed per entry),
//   and an API message naming one of their fields is shown under that field.
// - <button data-api="METHOD URL" data-confirm="question"> asks in a dialog first (a
//   form with data-confirm too).
// - Live updates: Holdfast.live(url, onEvent, types) subscribes to a Server-Sent Events
//   stream; the event centre adds new rows, every page counts new events in the header;
//   <div data-live-rows=URL> replaces a list's cells from the server's `rows` messages
//   (the cluster list's statuses).
// - <time datetime> is shown in the browser's time zone.
'use strict';

(function () {
  const strings = (() => {
    const el = document.getElementById('i18n');
    try { return el ? JSON.parse(el.textContent) : {}; } catch (_) { return {}; }
  })();
  const lang = document.documentElement.lang || 'en';

  function tr(key) { return strings[key] || key; }

  function csrf() {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : '';
  }

  // ---- API calls -------------------------------------------------------------------

  async function api(method, url, body) {
    const headers = { 'Accept': 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const token = csrf();
    if (token) headers['X-CSRF-Token'] = token;
    let resp;
    try {
      resp = await fetch(url, {
        method, headers, credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (_) {
      return { ok: false, status: 0, body: { error: { code: 'network', message: tr('error.network') } } };
    }
    const text = await resp.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (_) { data = { error: { code: 'bad_response', message: text } }; } }
    if (resp.status === 401 && url !== '/api/v1/sessions') {
      location.assign('/console/login?next=' + encodeURIComponent(location.pathname + location.search));
    }
    return { ok: resp.ok, status: resp.status, body: data };
  }

  // A message for an API error: the localized meaning of its code, then the API's words.
  function errorText(result) {
    const err = (result.body && result.body.error) || {};
    const known = strings['error.' + err.code];
    const message = err.message || ('HTTP ' + result.status);
    if (known && known !== message) return known + ' — ' + message;
    return message;
  }

  // ---- toasts ------------------------------------------------------------------------

  function toast(text, kind) {
    const box = document.getElementById('toasts');
    if (!box || !text) return;
    const t = document.createElement('div');
    t.className = 'toast ' + (kind || 'ok');
    t.textContent = text;
    box.appendChild(t);
    setTimeout(() => t.remove(), 6000);
  }

  // A toast to show on the next page (after a redirect or reload).
  function toastNext(text) { if (text) sessionStorage.setItem('holdfast.toast', text); }

  function flushToast() {
    const text = sessionStorage.getItem('holdfast.toast');
    if (text) { sessionStorage.removeItem('holdfast.toast'); toast(text, 'ok'); }
  }

  // ---- dialogs -----------------------------------------------------------------------

  function confirmDialog(question) {
    const d = document.getElementById('confirm-dialog');
    if (!d || typeof d.showModal !== 'function') return Promise.resolve(window.confirm(question));
    d.querySelector('#confirm-text').textContent = question;
    return new Promise((resolve) => {
      const ok = d.querySelector('[data-role=ok]');
      const cancel = d.querySelector('[data-role=cancel]');
      const done = (v) => {
        ok.removeEventListener('click', onOk);
        cancel.removeEventListener('click', onCancel);
        d.removeEventListener('cancel', onCancel);
        d.close();
        resolve(v);
      };
      const onOk = () => done(true);
      const onCancel = (e) => { if (e) e.preventDefault(); done(false); };
      ok.addEventListener('click', onOk);
      cancel.addEventListener('click', onCancel);
      d.addEventListener('cancel', onCancel);
      d.showModal();
      cancel.focus();
    });
  }

  function secretDialog(secret) {
    const d = document.getElementById('secret-dialog');
    if (!d) return Promise.resolve();
    d.querySelector('#secret-value').textContent = secret;
    return new Promise((resolve) => {
      const close = d.querySelector('[data-role=close]');
      const copy = d.querySelector('[data-role=copy]');
      const onCopy = async () => {
        try { await navigator.clipboard.writeText(secret); toast(tr('js.copied'), 'ok'); }
        catch (_) { toast(tr('js.copy_failed'), 'error'); }
      };
      const onClose = (e) => {
        if (e) e.preventDefault();
        close.removeEventListener('click', onClose);
        copy.removeEventListener('click', onCopy);
        d.removeEventListener('cancel', onClose);
        d.close();
        resolve();
      };
      close.addEventListener('click', onClose);
      copy.addEventListener('click', onCopy);
      d.addEventListener('cancel', onClose);
      d.showModal();
      close.focus();
    });
  }

  // A clean-up script returned by the API (ignore-rollback, delete), to copy.
  function scriptDialog(script) {
    const d = document.getElementById('script-dialog');
    if (!d || typeof d.showModal !== 'function') return Promise.resolve();
    d.querySelector('#script-value').textContent = script;
    return new Promise((resolve) => {
      const close = d.querySelector('[data-role=close]');
      const copy = d.querySelector('[data-role=copy]');
      const onCopy = async () => {
        try { await navigator.clipboard.writeText(script); toast(tr('js.copied'), 'ok'); }
        catch (_) { toast(tr('js.copy_failed'), 'error'); }
      };
      const onClose = (e) => {
        if (e) e.preventDefault();
        close.removeEventListener('click', onClose);
        copy.removeEventListener('click', onCopy);
        d.removeEventListener('cancel', onClose);
        d.close();
        resolve();
      };
      close.addEventListener('click', onClose);
      copy.addEventListener('click', onCopy);
      d.addEventListener('cancel', onClose);
      d.showModal();
      close.focus();
    });
  }

  // ---- after success -----------------------------------------------------------------

  // Replaces {a.b} in a URL with values of the response.
  function fill(template, data) {
    return template.replace(/\{([a-z_.]+)\}/g, (_, path) => {
      let v = data;
      for (const p of path.split('.')) v = v == null ? v : v[p];
      return encodeURIComponent(v == null ? '' : String(v));
    });
  }

  async function afterSuccess(spec, data, toastText, form) {
    spec = spec || 'reload';
    if (spec === 'reset') {
      if (form) form.reset();
      toast(toastText, 'ok');
      return;
    }
    if (spec === 'stay') {
      toast(toastText, 'ok');
      return;
    }
    if (spec === 'script' || spec.startsWith('script:')) {
      const go = spec.startsWith('script:');
      if (!go) toast(toastText, 'ok');
      if (data && data.cleanup_script) await scriptDialog(data.cleanup_script);
      if (go) {
        toastNext(toastText);
        location.assign(fill(spec.slice(7), data || {}));
      }
      return;
    }
    if (spec.startsWith('secret:')) {
      toast(toastText, 'ok');
      await secretDialog((data && data.password) || '');
      location.assign(fill(spec.slice(7), data || {}));
      return;
    }
    toastNext(toastText);
    if (spec.startsWith('redirect:')) location.assign(fill(spec.slice(9), data || {}));
    else location.reload();
  }

  // ---- forms -------------------------------------------------------------------------

  function formBody(form) {
    const body = {};
    const arrays = (form.dataset.arrays || '').split(',').filter(Boolean);
    for (const a of arrays) body[a] = [];
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.dataset.send === 'no') continue;
      if (el.closest('[data-list-item]')) continue;
      if ((el.type === 'checkbox' || el.type === 'radio') && !el.checked) continue;
      let v = el.value;
      if (el.dataset.type === 'array') {
        if (!Array.isArray(body[el.name])) body[el.name] = [];
        body[el.name].push(v);
        continue;
      }
      if (v.trim() === '' && el.dataset.empty === 'null') v = null;
      else if (v.trim() === '' && el.dataset.empty === 'omit') continue;
      else if (el.dataset.type === 'number' && v !== '') v = Number(v);
      else if (el.dataset.type === 'local-time' && v !== '') {
        const d = new Date(v);
        if (isNaN(d.getTime())) throw new FormInputError(el, fieldLabel(el) + ': ' + v);
        v = d.toISOString();
      }
      else if (el.dataset.type === 'lines') v = v.split(/[\n,]/).map((x) => x.trim()).filter(Boolean);
      else if (el.dataset.type === 'json') {
        try { v = JSON.parse(v); } catch (e) {
          throw new FormInputError(el, tr('js.bad_json').replace('{field}', fieldLabel(el)) + ' ' + e.message);
        }
      }
      setPath(body, el.name, v, el.dataset.key);
    }
    // <fieldset data-list="name">: a list of objects, one per [data-list-item], of its
    // enabled named fields (trimmed; data-type="lines" a list).
    for (const list of form.querySelectorAll('[data-list]')) {
      body[list.dataset.list] = Array.from(list.querySelectorAll('[data-list-item]')).map((item) => {
        const o = {};
        for (const el of item.querySelectorAll('input, select, textarea')) {
          if (!el.name || el.disabled) continue;
          if (el.dataset.optional !== undefined && el.value.trim() === '') continue;
          o[el.name] = el.dataset.type === 'lines'
            ? el.value.split(/[\n,]/).map((x) => x.trim()).filter(Boolean)
            : el.value.trim();
        }
        return o;
      });
    }
    return body;
  }

  // ---- lists of objects in a form (storage metadata) --------------------------------

  // Shows the fields of the entry's chosen type ([data-for-type]); the others are
  // hidden and disabled, so they are not sent.
  function syncEntryType(select) {
    const item = select.closest('[data-list-item]');
    if (!item) return;
    for (const f of item.querySelectorAll('[data-for-type]')) {
      const off = f.dataset.forType !== select.value;
      f.hidden = off;
      for (const el of f.querySelectorAll('input, select, textarea')) el.disabled = off;
    }
  }

  function addEntry(button) {
    const list = button.closest('[data-list]');
    const tpl = list && list.querySelector('template');
    const box = list && list.querySelector('[data-role=storage-entries]');
    if (!tpl || !box) return;
    const n = Number(list.dataset.next || list.querySelectorAll('[data-list-item]').length);
    list.dataset.next = String(n + 1);
    const wrap = document.createElement('div');
    wrap.innerHTML = tpl.innerHTML.split('__N__').join('n' + n);
    const item = wrap.firstElementChild;
    box.appendChild(item);
    const type = item.querySelector('[data-role=storage-type]');
    if (type) { syncEntryType(type); type.focus(); }
  }

  // The API names a field of a list entry (`storage.pool: must be …`; it checks the
  // entries in order and reports the first refusal): the message goes under that field
  // of the first entry whose value breaks the field's declared shape (required,
  // pattern) or repeats an earlier entry's ([data-unique]), else of the first entry
  // with that field. Returns false when the message names no such field.
  function showListFieldError(form, result) {
    const err = (result.body && result.body.error) || {};
    const m = /^([a-z_]+)\.([a-z_]+): /.exec(err.message || '');
    const list = m && form.querySelector('[data-list="' + CSS.escape(m[1]) + '"]');
    if (!list) return false;
    const inputOf = (item) => {
      const f = item.querySelector('[data-field="' + CSS.escape(m[2]) + '"]:not([hidden])');
      return f && f.querySelector('input, select, textarea');
    };
    const inputs = Array.from(list.querySelectorAll('[data-list-item]')).map(inputOf).filter(Boolean);
    if (!inputs.length) return false;
    const seen = new Set();
    let el = inputs.find((i) => {
      const v = i.value.trim();
      const repeated = i.dataset.unique !== undefined && seen.has(v);
      seen.add(v);
      return !i.checkValidity() || repeated;
    }) || inputs[0];
    const p = document.createElement('p');
    p.className = 'field-error';
    p.id = el.id + '-error';
    p.setAttribute('role', 'alert');
    p.textContent = errorText(result);
    el.closest('.field').appendChild(p);
    el.setAttribute('aria-invalid', 'true');
    el.setAttribute('aria-describedby', ((el.getAttribute('aria-describedby') || '') + ' ' + p.id).trim());
    el.focus();
    return true;
  }

  function clearFieldErrors(form) {
    for (const p of form.querySelectorAll('.field-error')) p.remove();
    for (const el of form.querySelectorAll('[aria-invalid=true]')) {
      el.removeAttribute('aria-invalid');
      const rest = (el.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && id !== el.id + '-error');
      if (rest.length) el.setAttribute('aria-describedby', rest.join(' '));
      else el.removeAttribute('aria-describedby');
    }
  }

  // A value the browser cannot send as typed (shown like an API refusal).
  class FormInputError extends Error {
    constructor(el, message) { super(message); this.el = el; }
  }

  function fieldLabel(el) {
    const label = el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
    return label ? label.textContent.trim() : el.name;
  }

  // `credential.username` fills body.credential.username; a data-key is one more
  // level taken literally (a map key that may hold dots, e.g. an IP address).
  function setPath(body, name, v, key) {
    const parts = name.split('.');
    if (key !== undefined) parts.push(key);
    let o = body;
    for (const p of parts.slice(0, -1)) {
      if (typeof o[p] !== 'object' || o[p] === null) o[p] = {};
      o = o[p];
    }
    o[parts[parts.length - 1]] = v;
  }

  function showFormError(form, text) {
    const box = form.querySelector('[data-role=form-error]');
    if (box) {
      box.textContent = text;
      box.hidden = false;
      box.focus && box.setAttribute('tabindex', '-1');
    } else {
      toast(text, 'error');
    }
  }

  function clearFormError(form) {
    const box = form.querySelector('[data-role=form-error]');
    if (box) { box.hidden = true; box.textContent = ''; }
  }

  async function submitForm(form) {
    const [method, url] = form.dataset.api.split(' ');
    clearFormError(form);
    clearFieldErrors(form);
    for (const el of form.querySelectorAll('[data-same-as]')) {
      const other = document.getElementById(el.dataset.sameAs);
      if (other && other.value !== el.value) {
        showFormError(form, tr('js.password_mismatch'));
        el.focus();
        return;
      }
    }
    let body;
    try { body = formBody(form); } catch (e) {
      if (!(e instanceof FormInputError)) throw e;
      showFormError(form, e.message);
      e.el.focus();
      return;
    }
    if (form.dataset.confirm && !(await confirmDialog(form.dataset.confirm))) return;
    const button = form.querySelector('[type=submit]');
    if (button) button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    const result = await api(method, url, body);
    form.removeAttribute('aria-busy');
    if (button) button.disabled = false;
    if (result.ok) {
      await afterSuccess(form.dataset.success, result.body, form.dataset.toast, form);
      return;
    }
    if (showListFieldError(form, result)) return;
    const clear = form.dataset.clearOnError;
    if (clear && form.elements[clear]) form.elements[clear].value = '';
    showFormError(form, errorText(result));
    const first = form.querySelector('input:not([type=hidden]):not([readonly]), select, textarea');
    if (clear && form.elements[clear]) form.elements[clear].focus();
    else if (first) first.focus();
  }

  async function clickApiButton(button) {
    if (button.dataset.confirm && !(await confirmDialog(button.dataset.confirm))) return;
    const [method, url] = button.dataset.api.split(' ');
    button.disabled = true;
    const result = await api(method, url);
    button.disabled = false;
    if (result.ok) await afterSuccess(button.dataset.success, result.body, button.dataset.toast, null);
    else toast(errorText(result), 'error');
  }

  // ---- password policy checklist ---------------------------------------------------

  function checkPolicy(input) {
    const list = document.getElementById(input.dataset.policy);
    if (!list) return;
    const v = input.value;
    const chars = Array.from(v);
    for (const li of list.querySelectorAll('[data-rule]')) {
      let ok;
      switch (li.dataset.rule) {
        case 'length': ok = chars.length >= Number(li.dataset.min) && chars.length <= Number(li.dataset.max); break;
        case 'lower': ok = /\p{Ll}/u.test(v); break;
        case 'upper': ok = /\p{Lu}/u.test(v); break;
        case 'digit': ok = /[0-9]/.test(v); break;
        case 'special': ok = /[^\p{L}\p{N}]/u.test(v); break;
        case 'space': ok = v !== '' && !/[\s\p{Cc}]/u.test(v); break;
        default: ok = false;
      }
      li.classList.toggle('met', ok);
      li.dataset.met = String(ok);
    }
  }

  // ---- times ----------------------------------------------------------------------

  const timeFormat = (() => {
    try {
      return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'medium' });
    } catch (_) { return null; }
  })();

  function localTime(el) {
    const d = new Date(el.getAttribute('datetime'));
    if (!timeFormat || isNaN(d.getTime())) return;
    el.textContent = timeFormat.format(d);
    el.title = el.getAttribute('datetime');
  }

  // ---- live updates (Server-Sent Events) ---------------------------------------------

  const streams = new Map();

  // Calls onEvent(data, type) for every message of the given types (SSE event names;
  // by default the event centre's `event` and `lagged`) of the stream at url; one
  // connection per URL per page, re-established by the browser after a drop.
  function live(url, onEvent, types) {
    let entry = streams.get(url);
    if (!entry) {
      const source = new EventSource(url, { withCredentials: true });
      entry = { source, handlers: [], types: new Set() };
      source.addEventListener('open', () => document.body.classList.add('live-connected'));
      source.addEventListener('error', () => document.body.classList.remove('live-connected'));
      streams.set(url, entry);
    }
    const wanted = types || ['event', 'lagged'];
    for (const type of wanted) {
      if (entry.types.has(type)) continue;
      entry.types.add(type);
      entry.source.addEventListener(type, (msg) => {
        let data = msg.data;
        try { data = JSON.parse(msg.data); } catch (_) { /* plain text */ }
        for (const h of entry.handlers) if (h.types.includes(type)) h.fn(data, type);
      });
    }
    entry.handlers.push({ fn: onEvent, types: wanted });
    return entry.source;
  }

  // <div data-live-rows="stream URL"> around a list: the stream's `rows` messages
  // ([{ key, cells: { name: html } }], rendered by the server as the page renders
  // them) replace the cells [data-live-cell=name] of the row [data-live-key=key] in
  // place. The box says data-live="open" while connected and counts the messages
  // applied in data-live-updates.
  function setupLiveRows() {
    for (const box of document.querySelectorAll('[data-live-rows]')) {
      const source = live(box.dataset.liveRows, (rows) => {
        for (const r of Array.isArray(rows) ? rows : []) {
          const tr = box.querySelector('tr[data-live-key="' + CSS.escape(r.key) + '"]');
          if (!tr) continue;
          for (const [name, html] of Object.entries(r.cells || {})) {
            const cell = tr.querySelector('[data-live-cell="' + CSS.escape(name) + '"]');
            if (!cell) continue;
            cell.innerHTML = html;
            cell.querySelectorAll('time[datetime]').forEach(localTime);
          }
        }
        box.dataset.liveUpdates = String(Number(box.dataset.liveUpdates || 0) + 1);
      }, ['rows']);
      source.addEventListener('open', () => { box.dataset.live = 'open'; });
      source.addEventListener('error', () => { box.dataset.live = 'closed'; });
    }
  }

  function eventMatches(list, e) {
    const sev = list.dataset.severity;
    if (sev && e.severity !== sev) return false;
    if (list.dataset.code && e.code !== list.dataset.code) return false;
    if (list.dataset.object && !(e.objects || []).some((o) => o.id === list.dataset.object)) return false;
    return true;
  }

  function addEventRow(list, e) {
    const tpl = document.getElementById('event-row');
    const tbody = list.querySelector('tbody');
    if (!tpl || !tbody || tbody.querySelector('[data-event-id="' + CSS.escape(e.id) + '"]')) return;
    const row = tpl.content.firstElementChild.cloneNode(true);
    row.dataset.eventId = e.id;
    row.classList.add('new');
    const cells = row.querySelectorAll('td');
    const time = cells[0].querySelector('time');
    const iso = new Date(e.at).toISOString();
    time.setAttribute('datetime', iso);
    time.textContent = iso;
    localTime(time);
    const badge = cells[1].querySelector('.badge');
    badge.classList.add('sev-' + e.severity);
    badge.textContent = tr('severity.' + e.severity);
    cells[2].querySelector('code').textContent = e.code;
    const link = cells[3].querySelector('a');
    link.href = '/console/events/' + encodeURIComponent(e.id);
    link.textContent = e.message;
    cells[4].textContent = (e.objects || []).map((o) => o.kind + ':' + o.id).join(', ');
    const empty = tbody.querySelector('.empty-row');
    if (empty) empty.remove();
    tbody.insertBefore(row, tbody.firstChild);
    const range = document.querySelector('[data-role=range]');
    if (range) {
      const total = Number(range.dataset.total || 0) + 1;
      range.dataset.total = String(total);
      range.textContent = tr('js.total').replace('{total}', String(total));
    }
  }

  function setupLive() {
    const url = document.body.dataset.liveEvents;
    if (!url) return;
    const counter = document.querySelector('[data-role=live-count]');
    const list = document.getElementById('event-list');
    let count = 0;
    live(url, (data, type) => {
      if (type === 'lagged') {
        toast(tr('js.lagged'), 'error');
        return;
      }
      if (list && list.dataset.live && eventMatches(list, data)) addEventRow(list, data);
      else if (data.severity !== 'info') toast(tr('severity.' + data.severity) + ': ' + data.message, data.severity === 'warning' ? 'warn' : 'error');
      count += 1;
      if (counter) {
        counter.textContent = String(count);
        counter.parentElement.classList.add('has-new');
      }
    });
  }

  // ---- watching a running operation ---------------------------------------------------

  // <el data-watch="/api/v1/..." data-watch-field="f" data-watch-value="v">: polls the
  // API every 2 s while the page is visible and reloads once the field's value changes
  // (e.g. a cluster's sync status, which raises no event when a sync succeeds).
  function setupWatch() {
    const el = document.querySelector('[data-watch]');
    if (!el) return;
    const tick = async () => {
      if (document.visibilityState === 'visible') {
        const r = await api('GET', el.dataset.watch);
        if (r.ok && r.body && String(r.body[el.dataset.watchField]) !== el.dataset.watchValue) {
          location.reload();
          return;
        }
      }
      setTimeout(tick, 2000);
    };
    setTimeout(tick, 2000);
  }

  // ---- wiring ----------------------------------------------------------------------

  document.addEventListener('submit', (ev) => {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    ev.preventDefault();
    submitForm(form);
  });

  document.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (!target) return;
    const button = target.closest('button[data-api]');
    if (button) { ev.preventDefault(); clickApiButton(button); return; }
    if (target.closest('[data-role=storage-add]')) { addEntry(target.closest('[data-role=storage-add]')); return; }
    const remove = target.closest('[data-role=storage-remove]');
    if (remove) {
      const list = remove.closest('[data-list]');
      remove.closest('[data-list-item]').remove();
      const add = list && list.querySelector('[data-role=storage-add]');
      if (add) add.focus();
      return;
    }
    if (target.closest('[data-role=logout]')) {
      ev.preventDefault();
      api('DELETE', '/api/v1/sessions/current').then(() => location.assign('/console/login'));
      return;
    }
    const toggle = target.closest('.nav-toggle');
    if (toggle) {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      document.body.classList.toggle('nav-open', open);
    }
  });

  document.addEventListener('change', (ev) => {
    const el = ev.target;
    if (el instanceof HTMLSelectElement && el.dataset.role === 'storage-type') syncEntryType(el);
  });

  document.addEventListener('input', (ev) => {
    const el = ev.target;
    if (el instanceof HTMLInputElement && el.dataset.policy) checkPolicy(el);
  });

  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && document.body.classList.contains('nav-open')) {
      const toggle = document.querySelector('.nav-toggle');
      document.body.classList.remove('nav-open');
      if (toggle) { toggle.setAttribute('aria-expanded', 'false'); toggle.focus(); }
    }
  });

  document.addEventListener('DOMContentLoaded', () => {
    document.querySelectorAll('time[datetime]').forEach(localTime);
    document.querySelectorAll('input[data-policy]').forEach(checkPolicy);
    flushToast();
    setupLive();
    setupLiveRows();
    setupWatch();
    const first = document.querySelector('main form[data-api] input:not([type=hidden]):not([readonly])');
    if (first && document.body.classList.contains('bare')) first.focus();
    document.documentElement.classList.add('js');
  });

  window.Holdfast = { api, live, toast, confirm: confirmDialog, tr };
})();
