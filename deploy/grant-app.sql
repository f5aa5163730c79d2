-- outreach-map: what the app role may do with the store's tables (docs/deploy.md).
-- Run after every `outreach-map migrate` (a new version may add tables), as the superuser:
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -d outreach -f grant-app.sql
-- Idempotent.

BEGIN;
-- rows: read and write every table and view of the product ...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO outreach_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO outreach_app;
-- ... but the audit log only grows (its trigger refuses changes too; without ownership the
-- app cannot drop or disable that trigger), and the schema's revision is migrate's alone
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM outreach_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM outreach_app;
COMMIT;
