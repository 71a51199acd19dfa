//! Each service's broker user publishes only its own events
//! (`deploy/local/broker-users.sh`): booking's credentials cannot publish a
//! `referral.*` event, so they cannot forge what grants access to health detail.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use spotter_messaging::testing::ServiceUsers;

/// What RabbitMQ says when a topic permission refuses a routing key.
const TOPIC_REFUSED: &str = "ACCESS_REFUSED - access to topic";

/// Publishes `routing_key` to `exchange` as `user` and waits for the
/// broker's answer: `Ok` if it took the message.
async fn publish_as(user: &str, exchange: &str, routing_key: &str) -> Result<(), lapin::Error> {
    let url = format!("amqp://{user}:{user}-dev@127.0.0.1:5672/%2f");
    let connection = Connection::connect(&url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let confirmation = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            b"{}",
            BasicProperties::default(),
        )
        .await?
        .await;
    confirmation?;
    // A refused publish closes the channel; a round trip makes sure we saw it.
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}

#[tokio::test]
async fn a_services_credentials_publish_only_its_own_events() {
    let exchange = format!("perm-{}-spotter.events", uuid::Uuid::now_v7().simple());
    let _users = ServiceUsers::grant(&exchange);
    let admin = Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = admin.create_channel().await.unwrap();
    channel
        .exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                auto_delete: false,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();

    publish_as(
        "spotter-booking",
        &exchange,
        "booking.appointment_booked.v1",
    )
    .await
    .unwrap();
    let forged = publish_as(
        "spotter-booking",
        &exchange,
        "referral.referral_requested.v1.urgent",
    )
    .await;
    let refused = forged.expect_err("booking published a referral event");
    // Refused for the routing key (not, say, a failed login).
    assert!(refused.to_string().contains(TOPIC_REFUSED), "{refused}");
    publish_as(
        "spotter-referral",
        &exchange,
        "referral.referral_requested.v1.urgent",
    )
    .await
    .unwrap();
    publish_as(
        "spotter-notification",
        &exchange,
        "notification.delivered.v1",
    )
    .await
    .unwrap();
    let forged = publish_as(
        "spotter-notification",
        &exchange,
        "booking.appointment_booked.v1",
    )
    .await;
    let refused = forged.expect_err("notification published a booking event");
    assert!(refused.to_string().contains(TOPIC_REFUSED), "{refused}");

    channel
        .exchange_delete(exchange.as_str().into(), Default::default())
        .await
        .unwrap();
}
