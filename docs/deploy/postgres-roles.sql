-- envdeck team mode on PostgreSQL: the database roles (docs/security.md, "Team mode").
--
-- Two roles, and the server (not envdeck) enforces the difference:
--   envdeck_owner   owns the schema, runs the migrations, writes everything: the role of
--                   `envdeck agent` and of the admins whose envdeck may lead environments.
--   envdeck_member  a group role (NOLOGIN) for everyone else's TUI/CLI: SELECT on what a
--                   follower reads; INSERT of audit rows, and UPDATE of the three columns that
--                   finish one of its OWN rows (row-level security); nothing else. A member's
--                   envdeck follows the leader, and its actions are audited in the one trail.
-- Each engineer logs in as a role of their own IN envdeck_member (password in their own
-- ~/.pgpass, or peer/cert authentication), so the server knows who wrote each audit row:
-- `audit.db_user` is set to `session_user` by a trigger (migration 9), whatever the row's
-- `user` column claims.
--
-- Order (as a superuser, or a role with CREATEROLE that owns the database):
--   1. the roles and the database (section 1 below, or your own tooling);
--   2. run envdeck once as envdeck_owner (`envdeck agent --once`, or `envdeck status`): it
--      creates and migrates the schema;
--   3. this file in that database:  psql -d envdeck -v ON_ERROR_STOP=1 -f postgres-roles.sql
--      (again after every envdeck upgrade that adds tables: it is idempotent);
--   4. per engineer:  CREATE ROLE alice LOGIN PASSWORD '…' IN ROLE envdeck_member;
-- Names other than envdeck_owner / envdeck_member: psql -v owner=NAME -v member=NAME.

\if :{?owner}
\else
\set owner envdeck_owner
\endif
\if :{?member}
\else
\set member envdeck_member
\endif

-- 1. the roles (created when missing; a login password for the owner is set separately:
--    ALTER ROLE envdeck_owner PASSWORD '…', kept in the agent's Secret / ~/.pgpass)
SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I NOLOGIN', :'member')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'member') \gexec

-- 2. nobody but the owner creates objects or connects unless granted
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"DBNAME" TO :"owner", :"member";
GRANT USAGE ON SCHEMA public TO :"member";

-- 3. a member reads what a follower renders (snapshots, leases, timeline, audit, overlays,
--    promotions, lifecycle rows, …), and writes nothing but audit rows
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"member";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"member";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"member";

-- the audit row: every column but its id and db_user (the server fills both); finishing a
-- row changes only its result, message and finish time
GRANT INSERT (at, "user", env, target, action, params, origin, result, message, finished_at,
              owner_host, owner_pid, owner_start, owner_pidns) ON audit TO :"member";
GRANT UPDATE (result, message, finished_at) ON audit TO :"member";

-- a member finishes only the rows its own login wrote (and inserts only as itself); the
-- owner (the table's owner) is not subject to these policies
ALTER TABLE audit ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS envdeck_member_read ON audit;
DROP POLICY IF EXISTS envdeck_member_insert ON audit;
DROP POLICY IF EXISTS envdeck_member_finish ON audit;
CREATE POLICY envdeck_member_read ON audit FOR SELECT TO :"member" USING (true);
CREATE POLICY envdeck_member_insert ON audit FOR INSERT TO :"member" WITH CHECK (db_user = session_user);
CREATE POLICY envdeck_member_finish ON audit FOR UPDATE TO :"member"
    USING (db_user = session_user) WITH CHECK (db_user = session_user);

-- Not built: hiding environments from a member. Every member can SELECT every environment's
-- rows; envdeck's client hides the environments the access policy hides, a member with psql
-- sees them all (docs/security.md says so).
