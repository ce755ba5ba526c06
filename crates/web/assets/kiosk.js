// minyi's window rating device (电子评价器). Plain ES2020, no framework, no third-party code.
//
// Every rating is written to localStorage with a random client event id BEFORE the
// resident sees the thank-you screen, and leaves it only when the server has answered
// for that id (stored, duplicate or rejected). A sync loop sends what waits in batches
// and backs off while the network or the server is away; the server is idempotent on
// (device, client event id), so a resend after a reload or a lost answer counts once.
//
// The page holds every word and button already (rendered by the server from the message
// catalogue); this script only shows, hides and orders them, and sets text, never markup.
'use strict';

(() => {
  const KEY_TOKEN = 'minyi.kiosk.token';
  const KEY_CONFIG = 'minyi.kiosk.config';
  const KEY_QUEUE = 'minyi.kiosk.queue';
  const THANKS_MS = 4000;
  // A dissatisfied resident who walks away from the reason screen still counts.
  const REASON_MS = 20000;
  const BATCH = 50;
  const RETRY_MIN_MS = 1000;
  const RETRY_MAX_MS = 30000;
  const IDLE_SYNC_MS = 30000;
  const SETTINGS_TAPS = 5;

  const root = document.getElementById('kiosk');
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const screens = ['kiosk-setup', 'kiosk-rate', 'kiosk-reasons', 'kiosk-thanks'];

  const message = (name, vars = {}) => {
    const key = 'msg' + name.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
    let text = root.dataset[key] || name;
    for (const [k, v] of Object.entries(vars)) text = text.split('{' + k + '}').join(String(v));
    return text;
  };

  // --- storage -------------------------------------------------------------------------

  const read = (key) => {
    try {
      return JSON.parse(localStorage.getItem(key) || 'null');
    } catch (e) {
      return null;
    }
  };
  const write = (key, value) => localStorage.setItem(key, JSON.stringify(value));

  const loadQueue = () => {
    const raw = localStorage.getItem(KEY_QUEUE);
    if (!raw) return [];
    try {
      const q = JSON.parse(raw);
      if (Array.isArray(q)) return q;
    } catch (e) {
      // fall through: keep the damaged text for staff rather than overwrite it
    }
    localStorage.setItem(KEY_QUEUE + '.damaged.' + Date.now(), raw);
    localStorage.removeItem(KEY_QUEUE);
    return [];
  };
  const saveQueue = (q) => write(KEY_QUEUE, q);

  // 128 random bits as hex: crypto.getRandomValues works on plain http too, where
  // randomUUID does not (a kiosk on the bureau's LAN may not have a certificate).
  const newEventId = () => {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return 'k' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  };

  // --- screens ---------------------------------------------------------------------------

  let config = read(KEY_CONFIG);
  let problem = null; // 'bad_token' | 'not_window' | null
  let offline = false;
  let returnTimer = null;
  let reasonTimer = null;
  let heldId = null;

  const show = (id) => {
    $('kiosk-loading').hidden = true;
    for (const s of screens) $(s).hidden = s !== id;
    root.dataset.screen = id;
  };

  const applyConfig = (c) => {
    $('kiosk-window').textContent = c.window.name;
    for (const el of root.querySelectorAll('.kiosk-levels')) {
      el.hidden = Number(el.dataset.scale) !== c.scale;
    }
    const list = root.querySelector('.kiosk-reason-list');
    for (const b of list.querySelectorAll('.kiosk-reason')) b.hidden = true;
    for (const code of c.reasons) {
      const b = list.querySelector(`.kiosk-reason[data-reason="${code}"]`);
      if (!b) continue;
      b.hidden = false;
      list.appendChild(b); // the configured order
    }
    const device = $('kiosk-device');
    device.textContent = message('device', { device: c.device, window: c.window.name, stored: c.stored });
    device.hidden = false;
  };

  const setupError = (text) => {
    const p = $('kiosk-setup-status');
    p.textContent = text || '';
    p.hidden = !text;
  };

  const openSetup = (text) => {
    clearTimeout(returnTimer);
    $('kiosk-setup-back').hidden = !(config && localStorage.getItem(KEY_TOKEN));
    setupError(text);
    show('kiosk-setup');
  };

  const status = () => {
    const waiting = loadQueue().length;
    const p = $('kiosk-status');
    let state;
    let text;
    if (problem) {
      state = problem;
      text = message(problem);
    } else if (offline) {
      state = 'offline';
      text = message('offline', { n: waiting });
    } else if (waiting > 0) {
      state = 'pending';
      text = message('pending', { n: waiting });
    } else {
      state = 'synced';
      text = message('synced');
    }
    p.dataset.state = state;
    p.dataset.pending = String(waiting);
    p.textContent = text;
  };

  // --- rating ----------------------------------------------------------------------------

  const thanks = () => {
    show('kiosk-thanks');
    clearTimeout(returnTimer);
    returnTimer = setTimeout(() => show('kiosk-rate'), THANKS_MS);
  };

  const release = (id, reason) => {
    clearTimeout(reasonTimer);
    heldId = null;
    const q = loadQueue();
    const item = q.find((i) => i.client_event_id === id);
    if (item) {
      item.reason = reason || null;
      delete item.held;
      saveQueue(q);
    }
    thanks();
    syncSoon();
  };

  const rate = (level, dissatisfied) => {
    if (!config || root.dataset.screen !== 'kiosk-rate') return;
    const askReason = dissatisfied && config.reasons.length > 0;
    const item = {
      client_event_id: newEventId(),
      scale: config.scale,
      level,
      reason: null,
      rated_at: new Date().toISOString(),
    };
    // Held while the reason screen is up, so it is not sent without its reason; a reload
    // releases it (see start), so it is never stranded.
    if (askReason) item.held = true;
    const q = loadQueue();
    q.push(item);
    saveQueue(q);
    status();
    if (askReason) {
      heldId = item.client_event_id;
      show('kiosk-reasons');
      reasonTimer = setTimeout(() => release(item.client_event_id, null), REASON_MS);
    } else {
      thanks();
      syncSoon();
    }
  };

  // --- sync ------------------------------------------------------------------------------

  let syncing = false;
  let failures = 0;
  let syncTimer = null;

  const schedule = (ms) => {
    clearTimeout(syncTimer);
    syncTimer = setTimeout(sync, ms);
  };
  const syncSoon = () => schedule(0);
  const retryDelay = () => {
    failures += 1;
    const base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (failures - 1));
    return Math.round(base * (0.75 + Math.random() * 0.5));
  };

  async function sync() {
    const token = localStorage.getItem(KEY_TOKEN);
    if (syncing || !token) return;
    const ready = loadQueue().filter((i) => !i.held);
    if (ready.length === 0) {
      status();
      schedule(IDLE_SYNC_MS);
      return;
    }
    syncing = true;
    const batch = ready.slice(0, Math.min(BATCH, (config && config.max_batch) || BATCH)).map((i) => ({
      client_event_id: i.client_event_id,
      scale: i.scale,
      level: i.level,
      reason: i.reason,
      rated_at: i.rated_at,
    }));
    let next = IDLE_SYNC_MS;
    try {
      const resp = await fetch('/api/v1/ratings', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
        body: JSON.stringify({ ratings: batch }),
        cache: 'no-store',
        credentials: 'omit',
      });
      offline = false;
      if (resp.ok) {
        const body = await resp.json();
        // Only what the server answered for leaves the queue.
        const answered = new Set();
        for (const r of body.results || []) {
          const sent = batch[r.index];
          if (!sent || (r.client_event_id && r.client_event_id !== sent.client_event_id)) continue;
          if (r.status === 'rejected') console.warn(`rating ${sent.client_event_id} refused by the server: ${r.problem} ${r.detail || ''}`);
          if (['stored', 'duplicate', 'rejected'].includes(r.status)) answered.add(sent.client_event_id);
        }
        saveQueue(loadQueue().filter((i) => !answered.has(i.client_event_id)));
        if (config && typeof body.stored === 'number') {
          config.stored += body.stored;
          write(KEY_CONFIG, config);
          applyConfig(config);
        }
        problem = null;
        failures = 0;
        next = loadQueue().some((i) => !i.held) ? 0 : IDLE_SYNC_MS;
      } else if (resp.status === 401) {
        problem = 'bad_token';
        next = retryDelay();
      } else if (resp.status === 409) {
        problem = 'not_window';
        next = retryDelay();
      } else if (resp.status === 429) {
        // Several windows behind one office address share its limit: wait as told.
        const wait = Number(resp.headers.get('Retry-After')) * 1000;
        next = Math.max(retryDelay(), Number.isFinite(wait) ? wait : 0);
      } else {
        next = retryDelay();
      }
    } catch (e) {
      // No answer (offline, or the answer was lost): everything stays queued.
      offline = true;
      next = retryDelay();
    } finally {
      syncing = false;
      status();
      schedule(next);
    }
  }

  // --- configuration ---------------------------------------------------------------------

  // { ok, status, config?, detail? }; status 0 when the server could not be reached.
  async function fetchConfig(token) {
    try {
      const resp = await fetch('/api/v1/kiosk/config', {
        headers: { Authorization: 'Bearer ' + token },
        cache: 'no-store',
        credentials: 'omit',
      });
      if (resp.ok) return { ok: true, status: resp.status, config: await resp.json() };
      let detail = '';
      try {
        detail = (await resp.json()).detail || '';
      } catch (e) {
        detail = '';
      }
      return { ok: false, status: resp.status, detail };
    } catch (e) {
      return { ok: false, status: 0 };
    }
  }

  const useConfig = (c) => {
    config = c;
    write(KEY_CONFIG, c);
    applyConfig(c);
  };

  async function setUp(token) {
    setupError(message('setup_checking'));
    const r = await fetchConfig(token);
    if (r.ok) {
      localStorage.setItem(KEY_TOKEN, token);
      $('kiosk-token').value = '';
      problem = null;
      useConfig(r.config);
      setupError('');
      show('kiosk-rate');
      syncSoon();
    } else if (r.status === 401 || r.status === 403) {
      setupError(message('bad_token'));
    } else if (r.status === 409) {
      setupError(message('not_window'));
    } else {
      setupError(message('setup_unreachable'));
    }
  }

  async function refreshConfig() {
    const token = localStorage.getItem(KEY_TOKEN);
    if (!token) return;
    const r = await fetchConfig(token);
    if (r.ok) {
      problem = null;
      const wasRating = root.dataset.screen === 'kiosk-rate';
      useConfig(r.config);
      if (wasRating || root.dataset.screen === 'kiosk-setup') show('kiosk-rate');
    } else if (r.status === 401) {
      problem = 'bad_token';
      if (!config) openSetup(message('bad_token'));
    } else if (r.status === 409) {
      problem = 'not_window';
      if (!config) openSetup(message('not_window'));
    } else if (!config) {
      openSetup(message('setup_unreachable'));
    }
    status();
  }

  // --- wiring ----------------------------------------------------------------------------

  for (const b of root.querySelectorAll('.kiosk-level')) {
    b.addEventListener('click', () => rate(Number(b.dataset.level), b.dataset.dissatisfied === 'true'));
  }
  for (const b of root.querySelectorAll('#kiosk-reasons button[data-reason]')) {
    b.addEventListener('click', () => {
      if (heldId) release(heldId, b.dataset.reason);
    });
  }
  $('kiosk-setup-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('kiosk-token').value.trim();
    if (!token) {
      setupError(message('setup_empty'));
      return;
    }
    setUp(token);
  });
  $('kiosk-setup-back').addEventListener('click', () => {
    if (config) show('kiosk-rate');
  });
  // Staff reach the setup screen by tapping the window's name five times in a row;
  // residents see no settings button to press by accident.
  let taps = [];
  $('kiosk-window').addEventListener('click', () => {
    const now = Date.now();
    taps = taps.filter((t) => now - t < 3000).concat(now);
    if (taps.length >= SETTINGS_TAPS) {
      taps = [];
      openSetup('');
    }
  });
  window.addEventListener('online', () => {
    offline = false;
    failures = 0;
    syncSoon();
    refreshConfig();
  });
  window.addEventListener('offline', () => {
    offline = true;
    status();
  });

  // --- start -----------------------------------------------------------------------------

  // A rating held for its reason when the page went away is sent as it is.
  const q = loadQueue();
  if (q.some((i) => i.held)) {
    for (const i of q) delete i.held;
    saveQueue(q);
  }

  // `#token=…` (a link or QR code an administrator hands over): never sent to the server
  // in a URL, and wiped from the address bar at once.
  const tokenFromHash = () => {
    if (!location.hash.startsWith('#token=')) return null;
    let t = location.hash.slice('#token='.length);
    try {
      t = decodeURIComponent(t);
    } catch (e) {
      // keep it as typed; the server will say whether it is a key
    }
    history.replaceState(null, '', location.pathname + location.search);
    return t.trim() || null;
  };
  const fromHash = tokenFromHash();
  // The same link opened again on a device already showing /kiosk changes only the hash.
  window.addEventListener('hashchange', () => {
    const t = tokenFromHash();
    if (t) {
      openSetup('');
      setUp(t);
    }
  });

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/kiosk-sw.js', { scope: '/kiosk' }).catch((e) => console.warn(`offline copy unavailable: ${e}`));
  }

  status();
  if (fromHash) {
    openSetup('');
    setUp(fromHash);
  } else if (!localStorage.getItem(KEY_TOKEN)) {
    openSetup('');
  } else if (config) {
    applyConfig(config);
    show('kiosk-rate');
    refreshConfig();
  } else {
    refreshConfig();
  }
  syncSoon();
})();
