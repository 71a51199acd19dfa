DELETE FROM deadlines WHERE kind = 'adherence_week';
