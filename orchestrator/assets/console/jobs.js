// Holdfast console: the recovery job pages (loaded after console.js, uses window.Holdfast).
//
// - #job-form[data-combos]: offers only the (type, run type, recovery point)
//   combinations of jobs.md's table (the JSON the server renders from
//   dr::job_rules::ALLOWED_COMBINATIONS); the API still decides.
// - [data-when="name=v1 v2"]: shown, and its fields sent, only while the form's field
//   `name` has one of the values (nested conditions hide with their parent).
// - input[data-utc]: a datetime-local field filled with that UTC time in local time.
// - #job-monitor[data-stream]: follows /api/v1/jobs/{id}/stream (EventSource):
//   `monitor` (the full view) then `change` (what changed) and `removed`; updates the
//   state, progress, boot order, volumes, workflow, log, cleanup time and shows
//   exactly the operation buttons the job's state allows. No page reloads.
'use strict';

(function () {
  const H = window.Holdfast;
  const lang = document.documentElement.lang || 'en';

  // ---- the job form ---------------------------------------------------------------

  function fieldValue(form, name) {
    const f = form.elements[name];
    if (!f) return '';
    if (f instanceof RadioNodeList) return f.value;
    return f.disabled ? '' : f.value;
  }

  function conditionHolds(form, el) {
    const [name, values] = el.dataset.when.split('=');
    return values.split(' ').includes(fieldValue(form, name));
  }

  function syncConditions(form) {
    // Outer conditions first (document order), so nested fields see their parent.
    for (const el of form.querySelectorAll('[data-when]')) {
      const parentHidden = el.parentElement && el.parentElement.closest('[data-when][hidden]');
      el.hidden = Boolean(parentHidden) || !conditionHolds(form, el);
      for (const c of el.querySelectorAll('input, select, textarea')) {
        c.disabled = Boolean(c.closest('[data-when][hidden]'));
      }
    }
  }

  function syncCombos(form) {
    let combos;
    try { combos = JSON.parse(form.dataset.combos); } catch (_) { return; }
    const type = fieldValue(form, 'type');
    const runs = combos[type] || {};
    const pick = (name, allowed) => {
      const radios = Array.from(form.querySelectorAll('input[type=radio][name="' + name + '"]'));
      for (const r of radios) {
        r.disabled = !allowed.includes(r.value);
        r.closest('label').classList.toggle('unavailable', r.disabled);
      }
      const checked = radios.find((r) => r.checked);
      if (!checked || checked.disabled) {
        const first = radios.find((r) => !r.disabled);
        if (first) first.checked = true;
      }
    };
    pick('run_type', Object.keys(runs));
    pick('recovery_point', runs[fieldValue(form, 'run_type')] || []);
  }

  function localValue(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return '';
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
  }

  function setupForm() {
    const form = document.getElementById('job-form');
    if (!form) return;
    for (const el of form.querySelectorAll('input[data-utc]')) el.value = localValue(el.dataset.utc);
    const tz = form.elements['schedule.time_zone'];
    if (tz && tz.value === 'UTC' && !tz.dataset.kept) {
      try { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (_) { /* keep UTC */ }
    }
    const sync = () => {
      if (form.dataset.combos) syncCombos(form);
      syncConditions(form);
    };
    form.addEventListener('change', sync);
    sync();
  }

  // ---- the live monitor -------------------------------------------------------------

  const strings = (() => {
    const el = document.getElementById('job-strings');
    try { return el ? JSON.parse(el.textContent) : {}; } catch (_) { return {}; }
  })();

  function label(prefix, value) {
    return strings[prefix + String(value).replace(/-/g, '_')] || value;
  }

  const timeFormat = (() => {
    try { return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'medium' }); } catch (_) { return null; }
  })();

  function timeEl(iso) {
    const t = document.createElement('time');
    t.setAttribute('datetime', iso);
    t.title = iso;
    const d = new Date(iso);
    t.textContent = timeFormat && !isNaN(d.getTime()) ? timeFormat.format(d) : iso;
    return t;
  }

  function setTime(el, iso) {
    if (!el) return;
    el.textContent = '';
    if (iso) el.appendChild(timeEl(iso));
  }

  function setStatus(chip, status, error) {
    if (!chip) return;
    chip.dataset.value = status;
    chip.textContent = label('jobs.status_', status);
    if (error) chip.title = error; else chip.removeAttribute('title');
  }

  const BADGE = {
    running: 'sev-info', clearing: 'sev-info', canceling: 'sev-info', reporting: 'sev-info',
    paused: 'sev-warning', pending: 'sev-warning', 'clear-failed': 'sev-error',
  };
  const RESULT = { success: 'sev-info', partial_success: 'sev-warning', canceled: 'sev-warning', failed: 'sev-error' };

  function applyJob(root, job, operations, deletable) {
    const badge = document.querySelector('#job-summary [data-role=job-state]');
    if (badge) {
      badge.dataset.value = job.state;
      badge.className = 'badge ' + (BADGE[job.state] || '');
      badge.textContent = label('jobs.state_', job.state);
    }
    const result = document.querySelector('#job-summary [data-role=job-result]');
    if (result) {
      result.hidden = !job.result;
      result.dataset.value = job.result || '';
      result.className = 'badge ' + (RESULT[job.result] || '');
      result.textContent = job.result ? label('jobs.result_', job.result) : '';
    }
    for (const f of ['next_run_at', 'triggered_at', 'started_at', 'completed_at']) {
      setTime(root.querySelector('[data-field=' + f + ']'), job[f]);
    }
    const reason = root.querySelector('[data-field=reason]');
    if (reason) reason.textContent = job.reason || '';
    const cleanup = document.getElementById('job-cleanup');
    if (cleanup) {
      cleanup.hidden = !job.cleanup_at;
      setTime(cleanup.querySelector('[data-field=cleanup_at]'), job.cleanup_at);
    }
    if (operations) {
      for (const el of document.querySelectorAll('[data-op]')) el.hidden = !operations.includes(el.dataset.op);
    }
    const del = document.querySelector('[data-role=job-delete]');
    if (del && deletable !== undefined) del.hidden = !deletable;
    const edit = document.querySelector('[data-role=job-edit]');
    if (edit) edit.hidden = job.state !== 'waiting';
    if (job.run_id) {
      const link = root.querySelector('[data-role=report-link]');
      if (link) link.href = '/console/reports/' + encodeURIComponent(job.run_id);
    }
    if (job.state === 'finished' && job.run_type !== 'schedule') showFinished(root);
  }

  function showFinished(root) {
    const box = root.querySelector('#job-finished');
    if (box) box.hidden = false;
    for (const el of document.querySelectorAll('[data-op], [data-role=job-edit]')) el.hidden = true;
  }

  function applyProgress(root, p) {
    const bar = root.querySelector('#job-progress');
    if (bar) { bar.value = p.percent; bar.textContent = p.percent + '%'; }
    const text = root.querySelector('[data-role=progress-text]');
    if (text) text.textContent = p.done + ' / ' + p.total + ' · ' + p.percent + '%';
  }

  function applyInstances(root, items) {
    for (const i of items) {
      for (const li of root.querySelectorAll('[data-instance="' + CSS.escape(i.id) + '"]')) {
        li.dataset.status = i.status;
        setStatus(li.querySelector('[data-role=status]'), i.status, i.error);
      }
    }
  }

  function renderBoot(root, boot) {
    const box = root.querySelector('[data-role=boot]');
    if (!box || !boot.length || box.querySelector('[data-instance]')) return;
    const empty = box.querySelector('[data-role=boot-empty]');
    if (empty) empty.remove();
    const order = box.querySelector('.boot-order');
    const section = (title, entries) => {
      const s = document.createElement('section');
      s.className = 'boot-group';
      s.setAttribute('aria-label', title);
      const h = document.createElement('h3');
      h.textContent = title;
      const ul = document.createElement('ul');
      for (const e of entries) {
        const li = document.createElement('li');
        li.className = 'boot-instance';
        li.dataset.instance = e.id;
        li.dataset.status = 'preparing';
        const name = document.createElement('span');
        name.className = 'name';
        name.textContent = e.name;
        const chip = document.createElement('span');
        chip.className = 'status';
        chip.dataset.role = 'status';
        setStatus(chip, 'preparing');
        li.append(name, chip);
        ul.appendChild(li);
      }
      s.append(h, ul);
      order.appendChild(s);
    };
    const stopped = boot.filter((e) => e.start_order == null);
    if (stopped.length) section(strings['jobs.not_started'] || '—', stopped);
    const groups = [];
    for (const e of boot.filter((x) => x.start_order != null)) {
      const last = groups[groups.length - 1];
      if (last && last.order === e.start_order) last.entries.push(e);
      else groups.push({ order: e.start_order, entries: [e] });
    }
    groups.forEach((g, n) => section((strings['plans.boot_group'] || '#{n}').replace('{n}', String(n + 1)), g.entries));
  }

  function applyVolumes(root, items) {
    const tbody = root.querySelector('#job-volumes tbody');
    if (!tbody) return;
    for (const v of items) {
      let tr = tbody.querySelector('[data-volume="' + CSS.escape(v.id) + '"]');
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.volume = v.id;
        const id = document.createElement('td');
        const code = document.createElement('code');
        code.textContent = v.id;
        id.appendChild(code);
        const st = document.createElement('td');
        const chip = document.createElement('span');
        chip.className = 'status';
        chip.dataset.role = 'status';
        st.appendChild(chip);
        const err = document.createElement('td');
        err.dataset.role = 'error';
        tr.append(id, st, err);
        const empty = tbody.querySelector('.empty-row');
        if (empty) empty.remove();
        tbody.appendChild(tr);
      }
      setStatus(tr.querySelector('[data-role=status]'), v.status, v.error);
      tr.querySelector('[data-role=error]').textContent = v.error || '';
    }
  }

  function applyTasks(root, tasks) {
    const tbody = root.querySelector('#job-tasks tbody');
    if (!tbody) return;
    for (const t of tasks) {
      const key = t.stage + ':' + t.index;
      let tr = tbody.querySelector('[data-task="' + CSS.escape(key) + '"]');
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.task = key;
        for (let n = 0; n < 8; n += 1) tr.appendChild(document.createElement('td'));
        [1, 5, 6].forEach((n) => { tr.children[n].className = 'num'; });
        const empty = tbody.querySelector('.empty-row');
        if (empty) empty.remove();
        tbody.appendChild(tr);
      }
      const c = tr.children;
      c[0].textContent = label('jobs.stage_', t.stage);
      c[1].textContent = String(t.index + 1);
      c[2].textContent = t.description;
      c[3].textContent = '';
      const chip = document.createElement('span');
      chip.className = 'status';
      setStatus(chip, t.state);
      c[3].appendChild(chip);
      setTime(c[4], t.started_at);
      c[5].textContent = t.duration_ms == null ? '' : (t.duration_ms / 1000).toFixed(1) + ' s';
      c[6].textContent = String(t.attempts);
      c[7].textContent = t.error || '';
    }
  }

  function applyLog(root, lines, replace) {
    const ol = root.querySelector('#job-log');
    if (!ol) return;
    if (replace) ol.textContent = '';
    for (const l of lines) {
      const li = document.createElement('li');
      li.dataset.level = l.level;
      const msg = document.createElement('span');
      msg.className = 'message';
      msg.textContent = l.message;
      li.append(timeEl(l.at), ' ', msg);
      ol.appendChild(li);
    }
  }

  function apply(root, view, full) {
    applyJob(root, view.job, view.operations, view.deletable);
    applyProgress(root, view.progress);
    if (full && view.boot) renderBoot(root, view.boot);
    applyInstances(root, view.instances || []);
    applyVolumes(root, view.volumes || []);
    applyTasks(root, view.tasks || []);
    applyLog(root, view.log || [], full);
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  }

  function setupMonitor() {
    const root = document.getElementById('job-monitor');
    if (!root || !root.dataset.stream || typeof EventSource !== 'function') return;
    const live = root.querySelector('[data-role=job-live]');
    const source = new EventSource(root.dataset.stream, { withCredentials: true });
    const parse = (msg) => { try { return JSON.parse(msg.data); } catch (_) { return null; } };
    source.addEventListener('open', () => { root.dataset.live = 'open'; if (live) live.classList.add('on'); });
    source.addEventListener('error', () => { root.dataset.live = 'closed'; if (live) live.classList.remove('on'); });
    source.addEventListener('monitor', (m) => { const v = parse(m); if (v) apply(root, v, true); });
    source.addEventListener('change', (m) => { const v = parse(m); if (v) apply(root, v, false); });
    source.addEventListener('removed', () => {
      source.close();
      root.dataset.live = 'removed';
      if (live) live.classList.remove('on');
      showFinished(root);
      for (const el of document.querySelectorAll('[data-role=job-delete]')) el.hidden = true;
    });
    window.addEventListener('beforeunload', () => source.close());
  }

  document.addEventListener('DOMContentLoaded', () => {
    if (!H) return;
    setupForm();
    setupMonitor();
  });
})();
