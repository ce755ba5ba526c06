//! Window rating devices (评价器): ratings bound to a device token, synced offline-safe.
