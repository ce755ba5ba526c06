// The window rating device (/kiosk) in a real browser: an administrator issues a kiosk
// key for a household-registration window, a tablet-sized page is set up with it through
// the URL fragment, residents rate online, then offline (one 不满意 with a reason), the
// page is reloaded while still offline (the offline worker serves it, the queue survives),
// the network returns and the queue drains — and the server holds exactly one rating per
// tap. Then an answer is lost after the server stored the batch, and a page reload cuts
// off another: each time the device resends, the server says duplicate, and the count
// still goes up by one per tap.
//
// Run by suite.mjs (which owns the browser and the helpers); it never starts a server.

const RATE = '#kiosk-rate';
const THANKS = '#kiosk-thanks';

/// The steps, as [name, fn] for suite.mjs's runner.
export function kioskSteps(h) {
  let token;
  let windowName;

  /// Network failures while offline are the point of this test; anything else (a CSP
  /// violation, an uncaught exception, another failing URL) is still an error.
  function unexpected(s) {
    const errs = s.errors.splice(0);
    return errs.filter(
      (e) =>
        !(/\/api\/v1\/(ratings|kiosk\/config)/.test(e) && /ERR_INTERNET_DISCONNECTED|ERR_FAILED|Failed to load resource|Failed to fetch/.test(e)) &&
        !/ERR_INTERNET_DISCONNECTED/.test(e),
    );
  }

  async function tabletSession(label, options = {}) {
    const context = await h.browser().newContext({
      baseURL: h.BASE_URL,
      viewport: { width: 1024, height: 768 },
      hasTouch: true,
      locale: 'en-US',
      ...options,
    });
    context.setDefaultTimeout(h.TIMEOUT_MS);
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}`);
      });
    });
    const s = { label, context, errors: [], expectedErrorUrls: new Set() };
    context.on('page', (p) => h.watch(s, p));
    s.page = await context.newPage();
    return s;
  }

  const queued = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('minyi.kiosk.queue') || '[]'));

  async function storedOnServer() {
    const resp = await fetch(`${h.BASE_URL}/api/v1/kiosk/config`, { headers: { Authorization: `Bearer ${token}` } });
    h.check(resp.status === 200, `GET /api/v1/kiosk/config answered ${resp.status}`);
    return (await resp.json()).stored;
  }

  /// One tap on a level (and, for a dissatisfied one, a reason), through the thank-you
  /// screen back to the buttons.
  async function rate(page, level, reason) {
    await page.locator(`${RATE} .kiosk-levels[data-scale="3"] button[data-level="${level}"]`).click();
    if (level === 3) {
      await page.locator('#kiosk-reasons').waitFor({ state: 'visible' });
      await page.locator(`#kiosk-reasons button[data-reason="${reason || ''}"]`).click();
    }
    await page.locator(THANKS).waitFor({ state: 'visible' });
    await page.locator(RATE).waitFor({ state: 'visible' });
  }

  const pendingIs = (page, n) =>
    page.waitForFunction((want) => document.getElementById('kiosk-status').dataset.pending === String(want), n, { timeout: 60_000 });

  async function issueKey() {
    const s = await h.newSession('kiosk admin');
    try {
      await h.signIn(s, h.account('admin'));
      await h.goto(s, '/admin/keys');
      const option = await s.page.locator('#unit option').evaluateAll((os) => {
        const o = os.find((x) => x.textContent.includes('户政窗口'));
        return o && { value: o.value, name: o.textContent.replace(/ \([^()]*\)$/, '') };
      });
      h.check(option, 'no household-registration window (户政窗口) among the units the admin may issue keys for');
      windowName = option.name;
      await s.page.selectOption('#purpose', 'kiosk');
      await s.page.selectOption('#unit', option.value);
      await s.page.fill('#label', '浏览器测试评价器');
      await Promise.all([s.page.waitForLoadState('load'), s.page.click('form[action="/admin/keys"] button[type=submit]')]);
      await s.page.locator('code[data-secret]').waitFor();
      token = (await s.page.locator('code[data-secret]').innerText()).trim();
      h.check(/^mk_/.test(token), `no kiosk key shown after creating one (got "${token}")`);
      h.noErrors(s);
    } finally {
      await s.context.close();
    }
  }

  async function offlineAndBack() {
    await issueKey();
    const s = await tabletSession('kiosk tablet');
    try {
      const { page } = s;
      // The setup screen first: the key typed in by hand is checked against the server.
      await page.goto('/kiosk', { waitUntil: 'load' });
      await page.locator('#kiosk-setup').waitFor({ state: 'visible' });
      h.check((await page.getAttribute('html', 'lang')) === 'zh-CN', '/kiosk is not zh-CN by default');
      await page.fill('#kiosk-token', 'mk_wrongkey_0000000000000000000000000000000000000000000');
      await page.click('#kiosk-setup-form button[type=submit]');
      await page.locator('#kiosk-setup-status').filter({ hasText: '无效' }).waitFor();
      await h.shot(page, 'kiosk-setup');
      s.errors.splice(0); // the wrong key's 401 was asked for
      // Then the fragment an administrator hands over: set up, and wiped from the address.
      await page.goto(`/kiosk#token=${encodeURIComponent(token)}`, { waitUntil: 'load' });
      await page.locator(RATE).waitFor({ state: 'visible' });
      h.check(!page.url().includes('token='), `the token stays in the address bar: ${page.url()}`);
      const shownName = (await page.locator('#kiosk-window').innerText()).trim();
      h.check(shownName === windowName, `the kiosk shows window "${shownName}", expected "${windowName}"`);
      const labels = await page.locator(`${RATE} .kiosk-levels[data-scale="3"] button`).allInnerTexts();
      h.check(labels.join('|') === '满意|基本满意|不满意', `three-level buttons read ${labels.join('|')}`);
      h.check(await page.locator(`${RATE} .kiosk-levels[data-scale="5"]`).isHidden(), 'the five-level buttons show on a three-level device');
      // The offline copy must be in place before the network goes.
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
      await h.shot(page, 'kiosk-rate');
      const before = await storedOnServer();
      h.check(before === 0, `a fresh key already has ${before} ratings`);

      for (const level of [1, 2, 1]) await rate(page, level);
      await pendingIs(page, 0);
      h.check((await storedOnServer()) === 3, 'three online ratings are not all on the server');

      await s.context.setOffline(true);
      await rate(page, 1);
      await rate(page, 3, 'waiting');
      await rate(page, 2);
      await rate(page, 1);
      await rate(page, 3, '');
      await pendingIs(page, 5);
      h.check((await queued(page)).length === 5, 'five offline ratings are not all queued in localStorage');
      h.check((await page.locator('#kiosk-status').getAttribute('data-state')) === 'offline', 'the status line does not say offline');
      await h.shot(page, 'kiosk-offline');

      // A reload without network: the worker serves the page, the queue is still there.
      await page.reload({ waitUntil: 'load' });
      await page.locator(RATE).waitFor({ state: 'visible' });
      h.check(await page.evaluate(() => !!navigator.serviceWorker.controller), 'the offline reload was not served through the offline worker');
      const q = await queued(page);
      h.check(q.length === 5, `after an offline reload ${q.length} ratings are queued, expected 5`);
      h.check(q.filter((i) => i.level === 3 && i.reason === 'waiting').length === 1, 'the 不满意 with reason 等候时间长 is not in the queue');
      h.check(new Set(q.map((i) => i.client_event_id)).size === 5, 'queued ratings share client event ids');
      h.check((await storedOnServer()) === 3, 'ratings reached the server while the tablet was offline');

      await s.context.setOffline(false);
      await pendingIs(page, 0);
      const after = await storedOnServer();
      h.check(after === 8, `the server holds ${after} ratings from this device, expected exactly 8`);
      await h.shot(page, 'kiosk-synced');
      const errs = unexpected(s);
      h.check(errs.length === 0, `kiosk tablet: unexpected errors:\n  ${errs.join('\n  ')}`);
    } finally {
      await s.context.close();
    }
  }

  async function lostAnswer() {
    h.check(token, 'no kiosk key: the previous step failed');
    // Without the offline worker, so the test's route sees the page's own requests.
    const s = await tabletSession('kiosk lost answer', { serviceWorkers: 'block' });
    try {
      const { page } = s;
      const before = await storedOnServer();
      const answers = [];
      let holdForReload = false;
      let stored;
      const storedSignal = new Promise((resolve) => (stored = resolve));
      let release;
      const reloaded = new Promise((resolve) => (release = resolve));
      await page.route('**/api/v1/ratings', async (route) => {
        // The batch reaches the server and is stored; the answer never reaches the page.
        const resp = await route.fetch();
        const body = await resp.json();
        answers.push(body);
        if (answers.length === 1) {
          await route.abort('failed');
        } else if (holdForReload) {
          holdForReload = false;
          stored(body);
          await reloaded;
          await route.abort('aborted').catch(() => {}); // the reload already cut it off
        } else {
          await route.fulfill({ response: resp });
        }
      });
      await page.goto(`/kiosk#token=${encodeURIComponent(token)}`, { waitUntil: 'load' });
      await page.locator(RATE).waitFor({ state: 'visible' });
      await rate(page, 3, 'attitude');
      await pendingIs(page, 0);
      h.check(answers.length >= 2, `the device did not resend after the lost answer (${answers.length} requests)`);
      h.check(answers[0].stored === 1, `the first (lost) answer says ${JSON.stringify(answers[0])}`);
      h.check(answers[1].duplicate === 1 && answers[1].stored === 0, `the resend was not a duplicate: ${JSON.stringify(answers[1])}`);
      await rate(page, 2);
      await pendingIs(page, 0);

      // The page reloads while a batch is on its way: stored on the server, the answer
      // never read; the reloaded page finds the rating still queued and sends it again.
      holdForReload = true;
      const sent = answers.length;
      await page.locator(`${RATE} .kiosk-levels[data-scale="3"] button[data-level="1"]`).click();
      const first = await storedSignal;
      h.check(first.stored === 1, `the batch cut off by the reload was not stored: ${JSON.stringify(first)}`);
      await page.reload({ waitUntil: 'load' });
      release();
      await page.locator(RATE).waitFor({ state: 'visible' });
      await pendingIs(page, 0);
      const resent = answers.slice(sent + 1);
      h.check(resent.length >= 1 && resent[0].duplicate === 1 && resent[0].stored === 0, `after the reload the rating was not answered as a duplicate: ${JSON.stringify(resent)}`);

      const after = await storedOnServer();
      h.check(after === before + 3, `three taps (one answer lost, one cut off by a reload) made ${after - before} ratings, expected 3`);
      const errs = unexpected(s);
      h.check(errs.length === 0, `kiosk lost answer: unexpected errors:\n  ${errs.join('\n  ')}`);
    } finally {
      await s.context.close();
    }
  }

  async function phone() {
    const s = await tabletSession('kiosk phone', { viewport: { width: 390, height: 844 }, serviceWorkers: 'block' });
    try {
      const { page } = s;
      await page.goto(`/kiosk?lang=en#token=${encodeURIComponent(token)}`, { waitUntil: 'load' });
      await page.locator(RATE).waitFor({ state: 'visible' });
      const labels = await page.locator(`${RATE} .kiosk-levels[data-scale="3"] button`).allInnerTexts();
      h.check(labels.join('|') === 'Satisfied|Fairly satisfied|Dissatisfied', `English buttons read ${labels.join('|')}`);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      h.check(wide <= 1, `the kiosk is ${wide}px wider than a phone`);
      for (const b of await page.locator(`${RATE} .kiosk-levels[data-scale="3"] button`).all()) {
        const box = await b.boundingBox();
        h.check(box && box.height >= 60 && box.width >= 200, `a rating button is only ${box && box.width}×${box && box.height} px on a phone`);
      }
      await h.shot(page, 'kiosk-phone-en');
      const errs = unexpected(s);
      h.check(errs.length === 0, `kiosk phone: unexpected errors:\n  ${errs.join('\n  ')}`);
    } finally {
      await s.context.close();
    }
  }

  return [
    ['kiosk: rate online, offline, reload offline, sync — exactly 8 on the server', offlineAndBack],
    ['kiosk: an answer lost, or cut off by a reload, after the server stored the batch counts once', lostAnswer],
    ['kiosk: a phone in English', phone],
  ];
}
