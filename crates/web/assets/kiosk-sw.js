// minyi's rating device offline worker: keeps a copy of the kiosk page, its script and
// its style, so a tablet that reloads (or reboots) while the network is down still shows
// the buttons. Network first, the copy only when the network fails. It never touches the
// API: ratings wait in the page's localStorage, not here. Plain ES2020, our own code.
'use strict';

const CACHE = 'minyi-kiosk-v1';
const SHELL = ['/kiosk', '/assets/kiosk.js', '/assets/minyi.css', '/assets/icon.svg'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('minyi-kiosk-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || !SHELL.includes(url.pathname)) return;
  event.respondWith(
    fetch(req)
      .then((resp) => {
        if (resp.ok) {
          const copy = resp.clone();
          caches.open(CACHE).then((c) => c.put(req, copy));
        }
        return resp;
      })
      .catch(() =>
        caches
          .match(req)
          .then((hit) => hit || caches.match(url.pathname))
          .then((hit) => hit || Response.error()),
      ),
  );
});
