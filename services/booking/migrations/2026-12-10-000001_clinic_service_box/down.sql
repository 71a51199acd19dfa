DROP INDEX clinics_service_box;
ALTER TABLE clinics DROP COLUMN service_box;
