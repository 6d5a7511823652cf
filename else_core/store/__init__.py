"""Writing correlated records into PostgreSQL: the live worker and the bulk import."""
