-- outreach-map: the PostgreSQL roles and database (docs/deploy.md, "The database").
-- Run once, as the superuser, with psql:
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -v dbname=outreach -f create-database.sql
-- Safe to run again: a role or database that exists is left as it is.
--
-- Two roles, neither a superuser:
--   outreach_owner  owns the database and every table; only `outreach-map migrate`, `copy`
--                   and `wipe`, run by the administrator, sign in as it (they need DDL rights)
--   outreach_app    what the app instances sign in as: reads and writes rows, owns nothing,
--                   cannot change the schema, and can only add to the audit log
--                   (grant-app.sql gives it exactly that, after each migrate)
-- Passwords are set afterwards with \password, never written in this file.

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'outreach_owner') AS make_owner \gset
\if :make_owner
CREATE ROLE outreach_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
\endif
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'outreach_app') AS make_app \gset
\if :make_app
CREATE ROLE outreach_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
\endif

SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') AS make_db \gset
\if :make_db
CREATE DATABASE :"dbname" OWNER outreach_owner ENCODING 'UTF8' TEMPLATE template0;
\endif

-- nobody else may even connect; the app may connect but not create schemas or temporary tables
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"dbname" TO outreach_app;

\connect :"dbname"
-- PostgreSQL 15+: the public schema belongs to the database's owner (outreach_owner), and
-- nobody else may create objects in it; the app may only use it
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO outreach_app;
