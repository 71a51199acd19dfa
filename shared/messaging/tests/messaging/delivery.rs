//! The delivery guarantees, against the real PostgreSQL and RabbitMQ:
//! committed ⇒ published, rolled back ⇒ never; a duplicate ⇒ one effect;
//! two relays ⇒ each event once, in order per referral; many deliveries in
//! flight ⇒ still handled in order per referral.

use crate::support::{Harness, Options, ROUTING_KEY, message, record_effect};
use diesel_async::AsyncConnection;
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use spotter_messaging::enqueue_message;
use spotter_messaging::retention::PUBLISHED_OUTBOX;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[tokio::test]
async fn committed_events_are_delivered_and_rolled_back_ones_never() {
    let h = Harness::start().await;
    let mut conn = h.connection().await;
    let rolled_back = conn
        .transaction::<(), diesel::result::Error, _>(async |conn| {
            enqueue_message(conn, message("r-1", b"never")).await?;
            Err(diesel::result::Error::RollbackTransaction)
        })
        .await;
    assert!(rolled_back.is_err());
    conn.transaction::<(), diesel::result::Error, _>(async |conn| {
        for payload in [b"one", b"two", b"thr"] {
            enqueue_message(conn, message("r-1", payload)).await?;
        }
        Ok(())
    })
    .await
    .unwrap();

    h.wait_for_count("SELECT count(*) AS n FROM effects", 3)
        .await;
    h.wait_for_count(
        "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
        0,
    )
    .await;
    assert_eq!(h.count("SELECT count(*) AS n FROM outbox").await, 3);
    // One referral's events arrive in the order they were enqueued, and the
    // rolled-back one (enqueued first) never does.
    assert_eq!(
        h.effect_payloads().await,
        vec![b"one".to_vec(), b"two".to_vec(), b"thr".to_vec()]
    );
}

#[tokio::test]
async fn a_duplicate_delivery_has_one_effect() {
    let h = Harness::start().await;
    let connection = h.broker.connected(&CancellationToken::new()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let duplicate = Uuid::now_v7();
    let marker = Uuid::now_v7();
    let publish = async |id: Uuid, body: &[u8]| {
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(id.to_string()))
            .with_delivery_mode(2);
        channel
            .basic_publish(
                h.settings.exchange.as_str().into(),
                ROUTING_KEY.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap()
            .take_message()
            .is_none()
    };
    assert!(publish(duplicate, b"dup").await, "routed to the consumer");
    assert!(publish(duplicate, b"dup").await);
    assert!(publish(marker, b"marker").await);
    // One delivery at a time, in order: once the marker is handled, both copies were seen.
    h.wait_for_count(
        &format!("SELECT count(*) AS n FROM effects WHERE message_id = '{marker}'"),
        1,
    )
    .await;
    assert_eq!(
        h.count(&format!(
            "SELECT count(*) AS n FROM effects WHERE message_id = '{duplicate}'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn two_relays_publish_each_event_once_in_order_per_referral() {
    const TAP: &str = "test.tap";
    let h = Harness::with(Options {
        relays: 2,
        taps: vec![TAP],
        ..Options::default()
    })
    .await;
    // Ten referrals' events interleaved, each committed on its own, from two
    // writers at once, while both relays compete for them.
    let referrals: Vec<String> = (0..10).map(|r| format!("referral-{r}")).collect();
    let writers = [0usize, 1].map(|writer| {
        let pool = h.pool.clone();
        let referrals = referrals.clone();
        tokio::spawn(async move {
            let mut conn = pool.get().await.unwrap();
            for step in 0..10 {
                for (r, referral) in referrals.iter().enumerate() {
                    if r % 2 == writer {
                        let payload = format!("{referral}#{step:02}");
                        enqueue_message(&mut conn, message(referral, payload.as_bytes()))
                            .await
                            .unwrap();
                    }
                }
            }
        })
    });
    for writer in writers {
        writer.await.unwrap();
    }
    h.wait_for_count("SELECT count(*) AS n FROM effects", 100)
        .await;
    h.wait_for_count(
        "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
        0,
    )
    .await;
    // The tap queue sees every publish, duplicates included: exactly 100.
    assert_eq!(h.ready_messages(TAP).await, 100);
    assert_each_took_effect_in_order(&h, &referrals, 10).await;
}

/// Pruning reads what it deletes: the outbox keeps a week of published
/// rows for replays, and a prune that read them all every ten minutes would
/// cost a week of rows each time.
#[tokio::test]
async fn published_rows_past_retention_are_pruned_through_their_index_and_pending_ones_kept() {
    const RETAINED: i64 = 20_000;
    let h = Harness::with(Options {
        relays: 0,
        consume: false,
        ..Options::default()
    })
    .await;
    // One published long ago, one never published (however old), and a
    // week's worth published recently.
    for (name, published) in [
        ("expired", "now() - interval '8 days'"),
        ("pending", "NULL"),
    ] {
        h.execute(&format!(
            "INSERT INTO outbox (message_id, routing_key, message_type, correlation_id, payload, \
             created_at, published_at) VALUES (gen_random_uuid(), 'r.v1', 't', '{name}', \
             '\\x00', now() - interval '8 days', {published})"
        ))
        .await;
    }
    h.execute(&format!(
        "INSERT INTO outbox (message_id, routing_key, message_type, correlation_id, payload, \
                             published_at) \
         SELECT gen_random_uuid(), 'r.v1', 't', 'kept-' || i, '\\x00', now() - interval '1 day' \
         FROM generate_series(1, {RETAINED}) i"
    ))
    .await;
    h.execute("VACUUM (ANALYZE) outbox").await;

    // One connection, so that its reads are the ones flushed to the statistics.
    let pool = spotter_db::connect(&h.db.settings.url, 1).unwrap();
    let scanned = async || {
        use diesel_async::RunQueryDsl;
        let mut conn = pool.get().await.unwrap();
        diesel::sql_query("SELECT pg_stat_force_next_flush()")
            .execute(&mut conn)
            .await
            .unwrap();
        #[derive(diesel::QueryableByName)]
        struct Read {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(
            "SELECT seq_tup_read AS n FROM pg_stat_user_tables WHERE relname = 'outbox'",
        )
        .get_result::<Read>(&mut conn)
        .await
        .unwrap()
        .n
    };
    let before = scanned().await;
    let pruned = spotter_db::retention::prune(&pool, &[PUBLISHED_OUTBOX])
        .await
        .unwrap();
    let read_by_scanning = scanned().await - before;

    assert_eq!(pruned, 1);
    assert_eq!(
        h.count("SELECT count(*) AS n FROM outbox").await,
        RETAINED + 1
    );
    assert_eq!(
        h.count("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
            .await,
        1
    );
    assert!(
        read_by_scanning < RETAINED / 10,
        "pruning one row read {read_by_scanning} rows by scanning"
    );
}

/// A referral's later events wait behind its first; once the first is
/// published they are heads, though no NOTIFY announces them again (the
/// insert trigger fired when they were written). The relay must go on
/// to them by itself, not wait for its poll: here the poll is an hour off.
#[tokio::test]
async fn a_referrals_later_events_follow_at_once_without_waiting_for_the_poll() {
    let h = Harness::with(Options {
        relays: 0,
        ..Options::default()
    })
    .await;
    let mut conn = h.connection().await;
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        for payload in ["a#00", "a#01", "a#02", "b#00"] {
            let referral = &payload[..1];
            enqueue_message(conn, message(referral, payload.as_bytes())).await?;
        }
        Ok(())
    })
    .await
    .unwrap();
    h.start_relay(spotter_messaging::RelayConfig {
        poll_interval: std::time::Duration::from_secs(3600),
        ..spotter_messaging::RelayConfig::default()
    });
    h.wait_for_count("SELECT count(*) AS n FROM effects", 4)
        .await;
    assert_each_took_effect_in_order(&h, &["a".to_owned()], 3).await;
}

/// Eight deliveries in flight, yet each referral's events take effect in the
/// order they were published: a slow event is not overtaken by the next one
/// of its referral, while other referrals' events run beside it.
#[tokio::test]
async fn one_referrals_events_keep_their_order_with_many_in_flight() {
    let (_h, most) = six_referrals_with_slow_steps(1).await;
    assert!(most > 1, "referrals were handled one at a time");
}

/// The same with deliveries handled in batches by two workers: a batch
/// keeps arrival order, and a referral's next event waits for the batch
/// that holds its previous one to commit.
#[tokio::test]
async fn one_referrals_events_keep_their_order_when_handled_in_batches() {
    let (h, most) = six_referrals_with_slow_steps(4).await;
    assert!(most > 1, "the two workers never ran side by side");
    let transactions = h
        .count("SELECT count(DISTINCT txid) AS n FROM effects")
        .await;
    assert!(transactions < 36, "no two events shared a transaction");
}

/// Six referrals' six events each, consumed eight in flight (in batches of
/// `batch`), each referral's in order; even steps are slow, so the next
/// step would overtake them. Returns the most handlers seen running at once.
async fn six_referrals_with_slow_steps(batch: u16) -> (Harness, usize) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (r, m) = (running.clone(), most.clone());
    let handler: spotter_messaging::Handler = Arc::new(move |conn, incoming| {
        let (running, most) = (r.clone(), m.clone());
        Box::pin(async move {
            most.fetch_max(running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            if incoming.payload.last().is_some_and(|digit| digit % 2 == 0) {
                tokio::time::sleep(std::time::Duration::from_millis(40)).await;
            }
            let recorded = record_effect(conn, incoming).await;
            running.fetch_sub(1, Ordering::SeqCst);
            recorded
        })
    });
    let h = Harness::with(Options {
        handler,
        concurrency: 8,
        batch,
        in_order: true,
        ..Options::default()
    })
    .await;
    let referrals: Vec<String> = (0..6).map(|r| format!("referral-{r}")).collect();
    for step in 0..6 {
        for referral in &referrals {
            h.enqueue(referral, &[format!("{referral}#{step:02}").as_bytes()])
                .await;
        }
    }
    h.wait_for_count("SELECT count(*) AS n FROM effects", 36)
        .await;
    assert_each_took_effect_in_order(&h, &referrals, 6).await;
    let most = most.load(Ordering::SeqCst);
    (h, most)
}

/// Each referral's effects, payloads `<referral>#<step:02>`, were written in
/// step order, from 0 to `steps` − 1.
async fn assert_each_took_effect_in_order(h: &Harness, referrals: &[String], steps: usize) {
    let payloads: Vec<String> = h
        .effect_payloads()
        .await
        .into_iter()
        .map(|p| String::from_utf8(p).unwrap())
        .collect();
    let expected: Vec<String> = (0..steps).map(|s| format!("{s:02}")).collect();
    for referral in referrals {
        let seen: Vec<&str> = payloads
            .iter()
            .filter_map(|p| p.strip_prefix(&format!("{referral}#")))
            .collect();
        assert_eq!(seen, expected, "{referral} out of order");
    }
}
