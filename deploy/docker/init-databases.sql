-- Run once by the postgres image on an empty data volume
-- (/docker-entrypoint-initdb.d), as POSTGRES_USER (spotter), who owns them.
-- One database per service: no service reads another's tables.
CREATE DATABASE spotter_referral;
CREATE DATABASE spotter_booking;
CREATE DATABASE spotter_notification;
