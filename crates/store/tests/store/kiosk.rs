//! Window rating devices: a batch answers per rating whether it was new, retries change
//! nothing, and the device namespace keeps two devices' ids apart.

use chrono::{TimeZone, Utc};
use minyi_core::Code;
use minyi_core::org::{NewUnit, UnitKind, WindowKind};
use minyi_core::records::{NewRating, RatingLevel, RatingScale};
use minyi_core::taxonomy::Channel;
use minyi_store::Store;
use minyi_store::testing::TestDb;

conformance!(
    kiosk:
    device_retries_are_stored_once,
    same_client_id_on_two_devices_is_two_ratings,
    batch_without_client_ids_is_refused_whole,
);

async fn two_windows(store: &Store) -> (i64, i64) {
    let unit = |c: &str, kind, parent: Option<&str>, window| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window,
        department: None,
        synthetic: false,
    };
    let ids = store
        .insert_units(&[
            unit("K", UnitKind::CityBureau, None, None),
            unit("K-1", UnitKind::CountyBureau, Some("K"), None),
            unit("K-1-S1", UnitKind::Station, Some("K-1"), None),
            unit(
                "K-1-S1-W1",
                UnitKind::Window,
                Some("K-1-S1"),
                Some(WindowKind::Household),
            ),
            unit(
                "K-1-S1-W2",
                UnitKind::Window,
                Some("K-1-S1"),
                Some(WindowKind::ExitEntry),
            ),
        ])
        .await
        .unwrap();
    (ids[3], ids[4])
}

fn rating(window: i64, device: &str, id: &str, level: i64, reason: Option<&str>) -> NewRating {
    NewRating {
        window_id: window,
        channel: Channel::RatingDevice,
        device: Some(device.into()),
        client_event_id: Some(id.into()),
        level: RatingLevel::parse(RatingScale::Three, level).unwrap(),
        reason: reason.map(str::to_owned),
        rated_at: Utc.with_ymd_and_hms(2026, 5, 6, 2, 30, 0).unwrap(),
        synthetic: false,
    }
}

pub async fn device_retries_are_stored_once(store: &Store, _db: &TestDb) {
    let (w1, _) = two_windows(store).await;
    let batch = [
        rating(w1, "key:aa", "1:ev-000001", 1, None),
        rating(w1, "key:aa", "1:ev-000002", 3, Some("waiting")),
        // The same rating twice in one batch: new once, then a duplicate.
        rating(w1, "key:aa", "1:ev-000002", 3, Some("waiting")),
    ];
    assert_eq!(
        store.insert_device_ratings(&batch).await.unwrap(),
        vec![true, true, false]
    );
    assert_eq!(store.count_window_ratings(w1).await.unwrap(), 2);
    // The answer was lost and the device sends the batch again with one more rating.
    let retry = [
        rating(w1, "key:aa", "1:ev-000001", 1, None),
        rating(w1, "key:aa", "1:ev-000002", 3, Some("waiting")),
        rating(w1, "key:aa", "1:ev-000003", 2, None),
    ];
    assert_eq!(
        store.insert_device_ratings(&retry).await.unwrap(),
        vec![false, false, true]
    );
    // A retry that differs (a device bug) does not overwrite: the first stays.
    assert_eq!(
        store
            .insert_device_ratings(&[rating(w1, "key:aa", "1:ev-000001", 3, None)])
            .await
            .unwrap(),
        vec![false]
    );
    assert_eq!(store.count_window_ratings(w1).await.unwrap(), 3);
    assert_eq!(store.count_device_ratings("key:aa").await.unwrap(), 3);
    assert_eq!(store.counts().await.unwrap().ratings, 3);
    assert!(store.insert_device_ratings(&[]).await.unwrap().is_empty());
}

pub async fn same_client_id_on_two_devices_is_two_ratings(store: &Store, _db: &TestDb) {
    let (w1, w2) = two_windows(store).await;
    // Both tablets happen to make the same id: the key id in front keeps them apart.
    let a = rating(w1, "key:aa", "1:same-id-1", 1, None);
    let b = rating(w2, "key:bb", "2:same-id-1", 2, None);
    assert_eq!(
        store
            .insert_device_ratings(std::slice::from_ref(&a))
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        store
            .insert_device_ratings(std::slice::from_ref(&b))
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        store.insert_device_ratings(&[a, b]).await.unwrap(),
        vec![false, false]
    );
    assert_eq!(store.count_window_ratings(w1).await.unwrap(), 1);
    assert_eq!(store.count_window_ratings(w2).await.unwrap(), 1);
    assert_eq!(store.count_device_ratings("key:bb").await.unwrap(), 1);
}

pub async fn batch_without_client_ids_is_refused_whole(store: &Store, _db: &TestDb) {
    let (w1, _) = two_windows(store).await;
    let mut anonymous = rating(w1, "key:aa", "unused", 1, None);
    anonymous.client_event_id = None;
    let good = rating(w1, "key:aa", "1:ev-000009", 1, None);
    assert!(
        store
            .insert_device_ratings(&[good, anonymous])
            .await
            .is_err()
    );
    assert_eq!(store.count_window_ratings(w1).await.unwrap(), 0);
}
