-- Host names bound to login roles before their first shipment: no trust on first use.
--
-- Without a reservation, a project x host belongs to the login role that enrols it first (001):
-- another host's role could take a name before the real host ships, leaving that host
-- unwitnessed. The database's owner reserves each name for its host's role
-- (`sealguard fleet reserve`); then only that role (or a superuser) may enrol a log under it.
-- A name already enrolled is not reserved for another role (its log keeps its owner).

CREATE TABLE sealguard.reservations (
    project      text NOT NULL,
    host         text NOT NULL,
    role         name NOT NULL,  -- the login role that alone may enrol this project x host
    reserved_by  name NOT NULL DEFAULT session_user,
    reserved     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project, host)
);
GRANT SELECT ON sealguard.reservations TO sealguard_observer, sealguard_auditor;

-- Every new log, whoever inserts it (sealguard.enrol runs as the schema's owner: the login role
-- is session_user).
CREATE FUNCTION sealguard.reserved_enrolment() RETURNS trigger
LANGUAGE plpgsql SET search_path = sealguard, pg_temp AS $$
DECLARE
    bound name;
BEGIN
    SELECT r.role INTO bound FROM reservations r
        WHERE r.project = NEW.project AND r.host = NEW.host;
    IF FOUND AND NOT writes(bound) THEN
        RAISE EXCEPTION 'the database reserves % on % for the role %, not %',
            NEW.project, NEW.host, bound, session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER logs_reserved BEFORE INSERT ON sealguard.logs
    FOR EACH ROW EXECUTE FUNCTION sealguard.reserved_enrolment();

-- A head is derived data a host's role writes at each shipment (fleet/summary.py keeps the
-- newest 20 of each list: a few kilobytes); `fleet status` reads at most 1 MB of one
-- (fleet/heads.py). A larger one is refused here, so that no role fills the table or slows
-- the fleet's views with one (NOT VALID: rows already there are left as they are).
ALTER TABLE sealguard.heads ADD CONSTRAINT heads_bounded
    CHECK (octet_length(summary::text) <= 1048576) NOT VALID;
