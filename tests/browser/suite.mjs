// minyi's browser suite: one headless Debian Chromium driven by playwright-core, against a
// server that tests/browser/run.sh started with the demo city. It signs in as every role,
// walks that role's pages (zh-CN first, then English), checks what the role must not
// reach, follows a resident's opinion from the public form to a revealed phone number,
// and saves a full-page screenshot of every page it visits.
//
// It must not start or stop the server, nor download a browser: run.sh owns the server,
// and the browser is the one Debian ships (CHROMIUM_PATH).
//
// Adding a page is one line in PAGES (and, for a page a role must not reach, one line in
// FORBIDDEN).

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kioskSteps } from './kiosk.mjs';

const BASE_URL = need('BASE_URL').replace(/\/$/, '');
const ACCOUNTS = JSON.parse(readFileSync(need('ACCOUNTS_FILE'), 'utf8'));
const SHOTS = process.env.SCREENSHOT_DIR || 'target/screenshots';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Generous: the demo city is large and CI machines are slow and shared.
const TIMEOUT_MS = Number(process.env.BROWSER_TIMEOUT_MS || 60_000);
// BROWSER_ONLY=kiosk runs only the steps whose name contains it (while working on one).
const ONLY = process.env.BROWSER_ONLY || '';

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`suite.mjs: ${name} is not set; run tests/browser/run.sh instead`);
    process.exit(2);
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// What is checked, as data.

const ROLES = ['admin', 'city_analyst', 'county_analyst', 'station_staff', 'department_liaison', 'survey_agency', 'leader'];
// Roles whose home page shows the unit tree and whose scope holds opinions.
const TREE = ['city_analyst', 'county_analyst', 'station_staff', 'leader'];
const REVEALERS = ['city_analyst', 'county_analyst', 'station_staff', 'department_liaison'];

// One line per page. `path` may hold {unit} (the account's unit code); `follow` instead
// names pages already visited (first that has a match wins), a selector for the links
// to follow there and which one ('first', 'last' or a function of the links found).
// Pages are visited in this order, so a page follows links from pages above it. `pending: true` marks a page still being built: a 404 is reported as
// "not served yet" instead of failing; once it answers, every check applies — then
// drop the flag.
// The overview table's busiest unit at the deepest level that has matters at all: a
// station under the account, whose page has areas, officers and opinions to follow.
function busiestDeepest(links) {
  const depth = (l) => Number((/\bd(\d+)\b/.exec(l.rowClass) || [0, 0])[1]);
  const busy = links.filter((l) => (l.rowNums[0] || 0) > 0);
  const pool = busy.length ? busy : links;
  const deepest = Math.max(...pool.map(depth));
  return pool.filter((l) => depth(l) === deepest).sort((x, y) => (y.rowNums[0] || 0) - (x.rowNums[0] || 0))[0];
}

const PAGES = [
  { name: 'home', path: '/', roles: ROLES },
  { name: 'unit', path: '/unit', roles: [...TREE, 'department_liaison'] },
  { name: 'child', follow: [['home'], 'table tr a[href^="/dashboard/"]', busiestDeepest], roles: TREE },
  { name: 'subunit', follow: [['child', 'home'], 'p.links a[href^="/units/"]:not([href$="/opinions"])', 'first'], roles: TREE },
  { name: 'opinions', follow: [['subunit', 'unit'], 'a[href^="/units/"][href$="/opinions"]', 'first'], roles: [...TREE, 'department_liaison'] },
  { name: 'map', path: '/map/{unit}', roles: TREE },
  { name: 'area', follow: [['subunit', 'unit', 'map'], 'a[href^="/areas/"]', 'first'], roles: TREE },
  { name: 'officer', follow: [['subunit', 'unit', 'area'], 'a[href^="/officers/"]', 'first'], roles: TREE },
  { name: 'opinion', follow: [['subunit', 'opinions', 'unit'], 'a[href^="/opinions/"]', 'first'], roles: [...TREE, 'department_liaison'], check: opinionPage },
  { name: 'users', path: '/admin/users', roles: ['admin'] },
  { name: 'keys', path: '/admin/keys', roles: ['admin'] },
  { name: 'audit', path: '/admin/audit', roles: ['admin', 'city_analyst'] },
  { name: 'account', path: '/account', roles: ['admin', 'survey_agency'] },
  { name: 'dashboard', path: '/dashboard/{unit}', roles: [...TREE, 'department_liaison'] },
  { name: 'village-map', path: '/map/{unit}?level=village&metric=rate', roles: TREE },
  { name: 'list-overdue', path: '/units/{unit}/opinions?overdue=1&sort=due&dir=asc', roles: TREE },
  { name: 'cards', path: '/units/{unit}/cards', roles: ['station_staff', 'county_analyst'] },
];

// Pages a role must not reach, and the status that says so (404 for objects outside the
// scope, so their existence does not leak; 403 for a function the role lacks).
const FORBIDDEN = [
  { role: 'leader', path: '/admin/users', status: 403 },
  { role: 'leader', path: '/admin/audit', status: 403 },
  { role: 'survey_agency', path: '/unit', status: 403 },
  { role: 'survey_agency', path: '/admin/keys', status: 403 },
  { role: 'station_staff', path: '/admin/keys', status: 403 },
  { role: 'department_liaison', path: '/admin/audit', status: 403 },
  { role: 'county_analyst', path: '/units/{city}', status: 404 },
  { role: 'station_staff', path: '/units/{city}', status: 404 },
];

// Pages where text that looks like a catalogue key is known and reported rather than
// failed (path prefix and why). Remove a line once the page translates it.
const RAW_TEXT_KNOWN = [{ path: '/admin/audit', why: "audit details are technical key=value records (role=leader unit=BS), shown as stored" }];

// English nav labels, any one of which proves the switch took (from locales/en.toml).
const EN_NAV = ['Overview', 'My unit', 'Accounts', 'My account', 'Sign out'];

// ---------------------------------------------------------------------------------------
// A tiny runner: named steps, all run, failures collected, non-zero exit on any.

const results = [];
const notes = [];

async function step(name, fn) {
  if (ONLY && !name.includes(ONLY)) return;
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`ok    ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - t0, error: e });
    console.log(`FAIL  ${name}: ${e && e.message ? e.message : e}`);
  }
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

function account(role) {
  const a = ACCOUNTS.find((x) => x.role === role);
  check(a, `no demo account for role ${role} in ${process.env.ACCOUNTS_FILE}`);
  return a;
}

const cityCode = () => account('city_analyst').unit_code;

function fill(path, a) {
  return path.replaceAll('{unit}', encodeURIComponent(a.unit_code)).replaceAll('{city}', encodeURIComponent(cityCode()));
}

// ---------------------------------------------------------------------------------------
// Browser plumbing: one browser, a fresh context per role, every console error and CSP
// violation recorded against the context.

let browser;

async function newSession(label) {
  const context = await browser.newContext({
    baseURL: BASE_URL,
    viewport: { width: 1280, height: 900 },
    // zh-CN must come from the server's default, not from the browser asking for it.
    locale: 'en-US',
  });
  context.setDefaultTimeout(TIMEOUT_MS);
  context.setDefaultNavigationTimeout(TIMEOUT_MS);
  // CSP violations also reach the console, but only as text; this names the directive.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}`);
    });
  });
  const s = { label, context, errors: [], expectedErrorUrls: new Set() };
  context.on('page', (p) => watch(s, p));
  s.page = await context.newPage();
  return s;
}

function watch(s, page) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location() && m.location().url;
    // Chromium asks for /favicon.ico by itself; the app serves none. A note, not a page error.
    if (url && new URL(url).pathname === '/favicon.ico') {
      if (!notes.some((n) => n.startsWith('/favicon.ico'))) notes.push('/favicon.ico answers 404: Chromium logs a console error on the first page of every session');
      return;
    }
    // Chromium logs every non-2xx document as an error; the ones we asked for are fine.
    if (/^Failed to load resource: the server responded with a status of/.test(m.text()) && s.expectedErrorUrls.has(url)) return;
    s.errors.push(`console error on ${page.url()}: ${m.text()}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (e) => s.errors.push(`uncaught exception on ${page.url()}: ${e.message}`));
  page.on('response', (r) => {
    const type = r.request().resourceType();
    if (type !== 'document' && r.status() >= 400 && !r.url().endsWith('/favicon.ico')) s.errors.push(`${type} ${r.url()} answered ${r.status()}`);
  });
  page.on('requestfailed', (r) => {
    if (!/ERR_ABORTED/.test(r.failure()?.errorText || '')) s.errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
}

function noErrors(s) {
  const errs = s.errors.splice(0);
  check(errs.length === 0, `${s.label}: console errors or CSP violations:\n  ${errs.join('\n  ')}`);
}

async function shot(page, file) {
  await page.screenshot({ path: join(SHOTS, `${file}.png`), fullPage: true });
}

/// Checks the page in hand: language, nav, no error summary, no raw catalogue keys, and
/// records horizontal overflow (a layout note, not a failure).
async function pageChecks(page, { lang = 'zh-CN', signedIn = true, errorSummaryOk = false, where }) {
  const htmlLang = await page.getAttribute('html', 'lang');
  check(htmlLang === lang, `${where}: html[lang] is ${htmlLang}, expected ${lang}`);
  if (signedIn) {
    check((await page.locator('nav form[action="/logout"] button').count()) === 1, `${where}: no sign-out button in the nav (not signed in?)`);
  }
  check((await page.locator('nav').count()) >= 1, `${where}: no nav`);
  if (!errorSummaryOk) {
    const n = await page.locator('.error-summary').count();
    check(n === 0, `${where}: shows an error summary: ${n ? await page.locator('.error-summary').first().innerText() : ''}`);
  }
  const raw = await rawKeys(page);
  const known = RAW_TEXT_KNOWN.find((k) => new URL(page.url()).pathname.startsWith(k.path));
  if (known && raw.length) notes.push(`${where}: ${known.why} (known: ${raw.slice(0, 8).join(', ')})`);
  else check(raw.length === 0, `${where}: untranslated catalogue keys shown as text: ${raw.slice(0, 8).join(', ')}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (wide > 1) notes.push(`${where}: the page is ${wide}px wider than the ${await page.evaluate(() => window.innerWidth)}px window (horizontal scroll)`);
  if (lang === 'zh-CN') {
    // Text in the page's own language should be Chinese somewhere in <main>.
    const main = await page.locator('main').innerText();
    check(/[\u4e00-\u9fff]/.test(main), `${where}: no Chinese text in <main> of a zh-CN page`);
  }
}

/// Visible text nodes that look like catalogue keys (`nav_home`, `state.open`): what
/// `t()` returns when a key is missing. Usernames and tracking codes are data, not keys.
async function rawKeys(page) {
  return page.evaluate(() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const key = /^[a-z][a-z0-9]*(?:[._][a-z0-9]+)+$/;
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const t = n.textContent.trim();
      if (!key.test(t) || /^demo_/.test(t)) continue;
      const el = n.parentElement;
      if (!el || el.closest('code, pre, script, style, option[value="' + t + '"]')) continue;
      if (!el.checkVisibility || el.checkVisibility()) out.push(t);
    }
    return [...new Set(out)];
  });
}

async function goto(s, path, expect = 200) {
  const url = new URL(path, BASE_URL).href;
  if (expect !== 200) s.expectedErrorUrls.add(url);
  const resp = await s.page.goto(url, { waitUntil: 'load' });
  check(resp, `${path}: no response`);
  return resp;
}

async function signIn(s, a) {
  const { page } = s;
  const resp = await goto(s, '/login');
  check(resp.status() === 200, `/login answered ${resp.status()}`);
  await pageChecks(page, { signedIn: false, where: `${s.label} /login` });
  await page.fill('#username', a.username);
  await page.fill('#password', a.password);
  await Promise.all([page.waitForURL((u) => u.pathname !== '/login', { waitUntil: 'load' }), page.click('form[action="/login"] button[type=submit]')]);
  // Home opens the account's own dashboard (or, for a role without opinions, a page saying so).
  const landed = new URL(page.url()).pathname;
  check(landed === '/' || landed.startsWith('/dashboard/'), `${a.username}: signed in but landed on ${page.url()}`);
}

async function signOut(s) {
  const { page } = s;
  await Promise.all([page.waitForURL((u) => u.pathname === '/login', { waitUntil: 'load' }), page.click('nav form[action="/logout"] button')]);
  // Signed out for real: a staff page sends us back to sign in.
  await goto(s, '/');
  check(new URL(page.url()).pathname === '/login', `after sign-out, / shows ${page.url()} instead of the sign-in page`);
}

// ---------------------------------------------------------------------------------------
// Per-page extra checks.

async function opinionPage(s, a) {
  const revealForms = await s.page.locator('form[action$="/reveal"]').count();
  if (!REVEALERS.includes(a.role)) {
    check(revealForms === 0, `${a.role} is offered the reveal form, but the role may not reveal`);
  }
}

// ---------------------------------------------------------------------------------------
// The steps.

async function roleWalk(role) {
  const a = account(role);
  const s = await newSession(role);
  try {
    await signIn(s, a);
    const seen = new Map(); // page name -> hrefs found there, for `follow`
    for (const p of PAGES.filter((p) => p.roles.includes(role))) {
      let path;
      if (p.follow) {
        const [from, selector, which] = p.follow;
        for (const f of from) {
          const links = (seen.get(f) || {})[selector] || [];
          if (links.length) {
            const l = typeof which === 'function' ? which(links) : which === 'last' ? links[links.length - 1] : links[0];
            path = l && l.href;
            break;
          }
        }
        check(path, `${role}: no link ${selector} on ${from.join(' or ')} to follow to ${p.name}`);
      } else {
        path = fill(p.path, a);
      }
      const resp = await goto(s, path, p.pending ? 404 : 200);
      if (p.pending && resp.status() === 404) {
        notes.push(`${role} ${p.name} (${path}): not served yet (pending page)`);
        continue;
      }
      check(resp.status() === 200, `${role} ${p.name}: ${path} answered ${resp.status()}, expected 200`);
      if (p.pending) notes.push(`${role} ${p.name} (${path}) is served now: drop its pending flag in PAGES`);
      await pageChecks(s.page, { where: `${role} ${path}` });
      if (p.check) await p.check(s, a);
      // Links other pages may follow: every selector any page wants, gathered here.
      const links = {};
      for (const q of PAGES.filter((q) => q.follow && q.follow[0].includes(p.name))) {
        let found = await s.page.locator(q.follow[1]).evaluateAll((els) =>
          els.map((e) => {
            const row = e.closest('tr');
            const nums = row ? [...row.querySelectorAll('td.num')].map((td) => Number(td.textContent.replace(/[^0-9]/g, ''))) : [];
            return { href: e.getAttribute('href'), rowClass: row ? row.className : '', rowNums: nums };
          }),
        );
        // The overview table starts with the own unit; prefer a unit below it.
        const own = `/units/${a.unit_code}`;
        if (found.some((l) => l.href !== own)) found = found.filter((l) => l.href !== own);
        links[q.follow[1]] = found;
      }
      seen.set(p.name, links);
      await shot(s.page, `${role}-${p.name}`);
      noErrors(s);
    }
    for (const f of FORBIDDEN.filter((f) => f.role === role)) {
      const path = fill(f.path, a);
      const resp = await goto(s, path, f.status);
      check(resp.status() === f.status, `${role} must not reach ${path}: expected ${f.status}, got ${resp.status()}`);
      await pageChecks(s.page, { where: `${role} ${path} (${f.status})` });
    }
    noErrors(s);

    // English through the header's language link, remembered by the cookie afterwards.
    await goto(s, '/');
    await Promise.all([s.page.waitForURL(/[?&]lang=en\b/, { waitUntil: 'load' }), s.page.click('header a[href$="?lang=en"]')]);
    await pageChecks(s.page, { lang: 'en', where: `${role} /?lang=en` });
    const navText = await s.page.locator('nav').first().innerText();
    check(EN_NAV.some((l) => navText.includes(l)), `${role}: English nav shows none of ${EN_NAV.join(', ')}: ${navText}`);
    await shot(s.page, `${role}-home-en`);
    const again = PAGES.find((p) => p.roles.includes(role) && p.path && p.path !== '/' && !p.pending);
    if (again) {
      const resp = await goto(s, fill(again.path, a));
      check(resp.status() === 200, `${role} ${again.path} in English answered ${resp.status()}`);
      await pageChecks(s.page, { lang: 'en', where: `${role} ${again.path} (lang cookie)` });
      await shot(s.page, `${role}-${again.name}-en`);
    }
    noErrors(s);
    await signOut(s);
    noErrors(s);
  } finally {
    await s.context.close();
  }
}

/// A resident leaves an opinion with a phone number, follows it by tracking code, and
/// staff who may see it find the phone masked until they reveal it with a reason.
async function residentToReveal() {
  const phone = '13912345678';
  const masked = '139****5678';
  const r = await newSession('resident');
  let code;
  try {
    const { page } = r;
    const resp = await goto(r, '/report');
    check(resp.status() === 200, `/report answered ${resp.status()}`);
    await pageChecks(page, { signedIn: false, where: 'resident /report' });
    await shot(page, 'resident-report');
    await page.fill('#text', '浏览器测试：小区门口路灯坏了一周，晚上很黑，请尽快修理。');
    await page.fill('#name', '张测试');
    await page.fill('#phone', phone);
    const [posted] = await Promise.all([
      page.waitForResponse((res) => res.url().endsWith('/report') && res.request().method() === 'POST'),
      page.click('form[action="/report"] button[type=submit]'),
    ]);
    await page.waitForLoadState('load');
    check(posted.status() === 201, `POST /report answered ${posted.status()}: ${await page.locator('main').innerText()}`);
    code = (await page.locator('[data-tracking-code]').innerText()).trim();
    check(/^\S{6,}$/.test(code), `no tracking code shown after submitting (got "${code}")`);
    await pageChecks(page, { signedIn: false, where: 'resident /report (thanks)' });
    await shot(page, 'resident-report-thanks');
    await Promise.all([page.waitForURL(/\/track\?code=/, { waitUntil: 'load' }), page.click(`a[href^="/track?code="]`)]);
    await pageChecks(page, { signedIn: false, where: 'resident /track' });
    const state = await page.locator('[data-state]').getAttribute('data-state');
    check(state, `/track?code=${code} shows no state`);
    check(!(await page.locator('main').innerText()).includes(phone), '/track shows the phone number');
    await shot(page, 'resident-track');
    noErrors(r);
  } finally {
    await r.context.close();
  }

  // The station if the matter landed in its scope, else the city analyst (who sees all).
  for (const role of ['station_staff', 'city_analyst']) {
    const s = await newSession(`${role} reveal`);
    try {
      await signIn(s, account(role));
      const path = `/opinions/${encodeURIComponent(code)}`;
      const resp = await goto(s, path, 404);
      if (resp.status() === 404 && role !== 'city_analyst') {
        notes.push(`the test opinion ${code} is outside ${role}'s scope; revealed as city_analyst`);
        await signOut(s);
        continue;
      }
      check(resp.status() === 200, `${role} ${path} answered ${resp.status()}`);
      await pageChecks(s.page, { where: `${role} ${path}` });
      const shown = await s.page.locator('[data-masked="contact_phone"]').innerText();
      check(shown.trim() === masked, `${role}: phone shown as "${shown}", expected masked ${masked}`);
      check(!(await s.page.content()).includes(phone), `${role}: the full phone is in the page before revealing`);
      await shot(s.page, `${role}-opinion-masked`);
      await s.page.selectOption('#field', 'phone');
      await s.page.fill('#reason', '浏览器测试：回访核实情况');
      await Promise.all([s.page.waitForLoadState('load'), s.page.click('form[action$="/reveal"] button[type=submit]')]);
      await s.page.waitForSelector('[data-revealed="phone"]');
      const full = await s.page.locator('[data-revealed="phone"]').innerText();
      check(full.trim() === phone, `${role}: revealed phone is "${full}", expected ${phone}`);
      await pageChecks(s.page, { where: `${role} ${path} (revealed)` });
      await shot(s.page, `${role}-opinion-revealed`);
      noErrors(s);
      await signOut(s);
      return;
    } finally {
      await s.context.close();
    }
  }
}

/// The sign-in form works with the keyboard alone: Tab to the username, type, Tab, type,
/// Enter.
async function keyboardSignIn() {
  const a = account('county_analyst');
  const s = await newSession('keyboard');
  try {
    const { page } = s;
    await goto(s, '/login');
    await page.locator('body').focus();
    let tabs = 0;
    while ((await page.evaluate(() => document.activeElement && document.activeElement.id)) !== 'username') {
      check(++tabs <= 20, 'the username field is not reachable with Tab (20 presses)');
      await page.keyboard.press('Tab');
    }
    await page.keyboard.type(a.username);
    await page.keyboard.press('Tab');
    check((await page.evaluate(() => document.activeElement.id)) === 'password', 'Tab from the username does not reach the password');
    await page.keyboard.type(a.password);
    await Promise.all([page.waitForURL((u) => u.pathname !== '/login', { waitUntil: 'load' }), page.keyboard.press('Enter')]);
    const landed = new URL(page.url()).pathname;
    check(landed === '/' || landed.startsWith('/dashboard/'), `keyboard sign-in landed on ${page.url()}`);
    await pageChecks(page, { where: 'keyboard sign-in' });
    noErrors(s);
    await signOut(s);
    noErrors(s);
  } finally {
    await s.context.close();
  }
}

/// A phone-sized screen: the pages a city analyst uses most, screenshotted; a page wider
/// than the screen is noted (a layout report, not a failure: tables may scroll).
async function narrowScreen() {
  const a = account('city_analyst');
  const s = await newSession('narrow');
  try {
    await s.page.setViewportSize({ width: 390, height: 844 });
    await signIn(s, a);
    for (const [name, path] of [['home', '/'], ['unit', '/unit'], ['opinions', `/units/${encodeURIComponent(a.unit_code)}/opinions`]]) {
      const resp = await goto(s, path);
      check(resp.status() === 200, `narrow ${path} answered ${resp.status()}`);
      await pageChecks(s.page, { where: `narrow ${path}` });
      await shot(s.page, `narrow-city_analyst-${name}`);
    }
    noErrors(s);
    await signOut(s);
  } finally {
    await s.context.close();
  }
}

// ---------------------------------------------------------------------------------------

mkdirSync(SHOTS, { recursive: true });
const t0 = Date.now();
browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  timeout: TIMEOUT_MS,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'],
});
try {
  console.log(`Chromium ${browser.version()} against ${BASE_URL}; screenshots in ${SHOTS}`);
  for (const role of ROLES) await step(`${role}: sign in, walk pages, English, sign out`, () => roleWalk(role));
  await step('resident: report with a phone, track it; staff see it masked, reveal it', residentToReveal);
  await step('sign-in form with the keyboard only', keyboardSignIn);
  await step('a phone-sized screen', narrowScreen);
  const helpers = { browser: () => browser, BASE_URL, TIMEOUT_MS, account, check, newSession, watch, signIn, goto, shot, noErrors };
  for (const [name, fn] of kioskSteps(helpers)) await step(name, fn);
} finally {
  await browser.close();
}

for (const n of notes) console.log(`note  ${n}`);
const failed = results.filter((r) => !r.ok);
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
for (const f of failed) console.log(`\nFAILED ${f.name}\n${f.error && f.error.stack ? f.error.stack : f.error}`);
process.exit(failed.length ? 1 : 0);
