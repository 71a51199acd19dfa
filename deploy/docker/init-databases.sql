-- Run once by the postgres image on an empty data volume
-- (/docker-entrypoint-initdb.d), as the administrator POSTGRES_USER (spotter).
-- One database per service, each owned by that service's own role and closed
-- to every other (docs/architecture.md, "Least privilege"): no service can
-- read another's tables. Passwords are for a local machine only.
CREATE ROLE spotter_referral LOGIN PASSWORD 'spotter-referral-dev';
CREATE ROLE spotter_booking LOGIN PASSWORD 'spotter-booking-dev';
CREATE ROLE spotter_notification LOGIN PASSWORD 'spotter-notification-dev';

CREATE DATABASE spotter_referral OWNER spotter_referral;
CREATE DATABASE spotter_booking OWNER spotter_booking;
CREATE DATABASE spotter_notification OWNER spotter_notification;

REVOKE CONNECT, TEMPORARY ON DATABASE spotter_referral FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE spotter_booking FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE spotter_notification FROM PUBLIC;

-- What booking's own role may not do (untrusted extensions).
\connect spotter_booking
\i /spotter/booking-admin.sql
