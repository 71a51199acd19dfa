DROP TABLE trainers;
