#!/usr/bin/env bash
# One RabbitMQ user per service, each allowed to publish only its own events:
# RabbitMQ topic permissions limit the routing keys a user may publish to a
# topic exchange, so booking's credentials cannot publish `referral.*` (a
# forged AppointmentBooked naming one's own physio would otherwise grant
# access to health detail). Idempotent; needs rabbitmqctl on the broker's
# machine (run as root). See docs/architecture.md, "Broker users".
#
# Usage: broker-users.sh [EXCHANGE]   (default: $SPOTTER_BROKER__EXCHANGE or
# spotter.events; topic permissions name one exchange, not a pattern).
# Passwords: SPOTTER_<SERVICE>_BROKER_PASSWORD (e.g. SPOTTER_BOOKING_BROKER_PASSWORD);
# without one, `spotter-<service>-dev`, which is for a local machine only.
set -euo pipefail

VHOST="${SPOTTER_BROKER_VHOST:-/}"
EXCHANGE="${1:-${SPOTTER_BROKER__EXCHANGE:-spotter.events}}"

for service in referral booking notification; do
    user="spotter-$service"
    variable="SPOTTER_${service^^}_BROKER_PASSWORD"
    password="${!variable:-spotter-$service-dev}"
    if ! rabbitmqctl -q list_users --no-table-headers | cut -f1 | grep -qx "$user"; then
        rabbitmqctl -q add_user "$user" "$password" >/dev/null
    fi
    # Its own queues and the events exchange: declare, publish, consume.
    rabbitmqctl -q set_permissions -p "$VHOST" "$user" '.*' '.*' '.*' >/dev/null
    # …but to the events exchange, only routing keys `<service>.…`.
    rabbitmqctl -q set_topic_permissions -p "$VHOST" "$user" "$EXCHANGE" "^${service}\\." '.*' >/dev/null
done
echo "broker users: spotter-referral, spotter-booking, spotter-notification (each publishes only <service>.* to $EXCHANGE)"
