-- The fleet ledger: every governed project x host is one log (its origin), held in one database.
--
-- The database is the sequencer and the witness. Observers never write a table: they call
-- sealguard.enrol, sealguard.append and sealguard.report_head, which run as the schema's owner.
-- append locks the origin's row (the fence), accepts only the next seq (gap-free: no sequence
-- object, whose numbers a rollback would skip), checks lines it already holds byte for byte,
-- extends its own RFC 6962 Merkle frontier, and accepts a checkpoint only when its root is the
-- root of the lines it holds. Every refusal is kept. Entries, checkpoints and refusals refuse
-- UPDATE, DELETE and TRUNCATE by trigger, whoever asks.

CREATE TABLE sealguard.logs (
    origin    text PRIMARY KEY,
    log_key   text NOT NULL,
    project   text NOT NULL,
    host      text NOT NULL,
    build     text,
    enrolled  timestamptz NOT NULL DEFAULT clock_timestamp(),
    size      bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
    frontier  bytea[] NOT NULL DEFAULT '{}',  -- the roots of the perfect subtrees, left to right
    owner     name NOT NULL DEFAULT session_user,  -- the login role that enrolled it: its only writer
    -- set once, together, by sealguard.retire (the database's owner): the log takes nothing
    -- more, and its project x host is free for a new log (a host rebuilt or re-sealed)
    retired         timestamptz,
    retired_by      name,
    retired_reason  text
);
CREATE UNIQUE INDEX logs_project_host ON sealguard.logs (project, host) WHERE retired IS NULL;

CREATE TABLE sealguard.entries (
    origin  text NOT NULL REFERENCES sealguard.logs (origin),
    seq     bigint NOT NULL CHECK (seq >= 0),
    line    bytea NOT NULL,  -- the canonical event line, without its newline
    leaf    bytea NOT NULL,  -- SHA-256(0x00 || line)
    PRIMARY KEY (origin, seq)
);

CREATE TABLE sealguard.checkpoints (
    origin    text NOT NULL REFERENCES sealguard.logs (origin),
    size      bigint NOT NULL,
    root      bytea NOT NULL,
    note      text NOT NULL,  -- the signed note, as the observer published it
    accepted  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (origin, size)
);

CREATE TABLE sealguard.refusals (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- an order, not a count
    origin     text NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    status     int NOT NULL,
    reason     text NOT NULL,
    submitted  text,
    after      bigint NOT NULL  -- how many lines the database held for the origin then
);
CREATE INDEX refusals_origin ON sealguard.refusals (origin, id);

-- A summary per origin for `sealguard fleet status`: derived from the log, replaced at each
-- report, never evidence (the entries are).
CREATE TABLE sealguard.heads (
    origin   text PRIMARY KEY REFERENCES sealguard.logs (origin),
    at_seq   bigint NOT NULL,
    summary  jsonb NOT NULL,
    updated  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION sealguard.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'sealguard.%: % refused: the fleet ledger is append-only', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- Statement triggers: they fire even when no row matches, so a DELETE or UPDATE is refused,
-- not merely found to touch nothing.
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON sealguard.entries
    FOR EACH STATEMENT EXECUTE FUNCTION sealguard.refuse_change();
CREATE TRIGGER checkpoints_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON sealguard.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION sealguard.refuse_change();
CREATE TRIGGER refusals_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON sealguard.refusals
    FOR EACH STATEMENT EXECUTE FUNCTION sealguard.refuse_change();
CREATE TRIGGER logs_no_delete BEFORE DELETE OR TRUNCATE ON sealguard.logs
    FOR EACH STATEMENT EXECUTE FUNCTION sealguard.refuse_change();

-- A log's row changes only by growing: its name, key and place never change, its size never
-- shrinks; its retirement is set once, whole, and then it never changes again.
CREATE FUNCTION sealguard.logs_only_grow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.origin <> OLD.origin OR NEW.log_key <> OLD.log_key OR NEW.project <> OLD.project
       OR NEW.host <> OLD.host OR NEW.build IS DISTINCT FROM OLD.build OR NEW.owner <> OLD.owner
       OR NEW.enrolled <> OLD.enrolled OR NEW.size < OLD.size
       OR (OLD.retired IS NOT NULL AND (NEW.retired, NEW.retired_by, NEW.retired_reason, NEW.size)
           IS DISTINCT FROM (OLD.retired, OLD.retired_by, OLD.retired_reason, OLD.size))
       OR (OLD.retired IS NULL AND NEW.retired IS NULL
           AND (NEW.retired_by IS NOT NULL OR NEW.retired_reason IS NOT NULL))
       OR (NEW.retired IS NOT NULL AND (NEW.retired_by IS NULL OR NEW.retired_reason IS NULL))
    THEN
        RAISE EXCEPTION 'sealguard.logs: % of % refused: a log only grows', TG_OP, OLD.origin
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER logs_only_grow BEFORE UPDATE ON sealguard.logs
    FOR EACH ROW EXECUTE FUNCTION sealguard.logs_only_grow();

-- The root of a tree from its frontier (RFC 6962: node = SHA-256(0x01 || left || right)).
CREATE FUNCTION sealguard.frontier_root(frontier bytea[]) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n int := coalesce(array_length(frontier, 1), 0);
    r bytea;
BEGIN
    IF n = 0 THEN
        RETURN sha256(''::bytea);
    END IF;
    r := frontier[n];
    FOR i IN REVERSE n - 1 .. 1 LOOP
        r := sha256('\x01'::bytea || frontier[i] || r);
    END LOOP;
    RETURN r;
END $$;

-- Whether the session's login role may write a log it owns: the role that enrolled it, or a
-- superuser (the fleet's administrator). Every observer role is a member of sealguard_observer,
-- so membership cannot tell hosts apart; the login role can.
CREATE FUNCTION sealguard.writes(p_owner name) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT session_user = p_owner
        OR coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false)
$$;

CREATE FUNCTION sealguard.refused(p_origin text, p_status int, p_reason text, p_submitted text,
                                  p_after bigint)
RETURNS TABLE (status int, reason text, size bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = sealguard, pg_temp AS $$
BEGIN
    INSERT INTO refusals (origin, status, reason, submitted, after)
        VALUES (p_origin, p_status, p_reason, p_submitted, p_after);
    RETURN QUERY SELECT p_status, p_reason, p_after;
END $$;
REVOKE ALL ON FUNCTION sealguard.refused(text, int, text, text, bigint) FROM PUBLIC;

-- Start keeping a log (trust on first use). The same origin with the same key is a no-op; with
-- another key, or a known project x host under another origin (re-sealed, re-keyed), refused.
CREATE FUNCTION sealguard.enrol(p_origin text, p_log_key text, p_project text, p_host text,
                                p_build text)
RETURNS TABLE (status int, reason text, size bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = sealguard, pg_temp AS $$
DECLARE
    known logs%ROWTYPE;
BEGIN
    LOCK TABLE logs IN SHARE ROW EXCLUSIVE MODE;  -- one enrolment at a time
    IF p_origin IS NULL OR p_log_key IS NULL OR p_project IS NULL OR p_host IS NULL THEN
        RETURN QUERY SELECT 400, 'origin, key, project and host are all needed'::text, 0::bigint;
        RETURN;
    END IF;
    SELECT * INTO known FROM logs l WHERE l.origin = p_origin;
    IF FOUND AND NOT writes(known.owner) THEN  -- not kept as a refusal: it is not the log's
        RETURN QUERY SELECT 403, format('log %s is kept for the role %s, not %s', p_origin,
            known.owner, session_user), known.size;
        RETURN;
    END IF;
    IF FOUND AND known.retired IS NOT NULL THEN
        RETURN QUERY SELECT * FROM refused(p_origin, 410, format(
            'log %s was retired at %s by %s (%s): it takes nothing more', p_origin,
            known.retired, known.retired_by, known.retired_reason), p_log_key, known.size);
        RETURN;
    END IF;
    IF FOUND THEN
        IF known.log_key <> p_log_key THEN
            RETURN QUERY SELECT * FROM refused(p_origin, 403, format(
                'origin %s is kept with the log key %s, not %s: the log was re-keyed',
                p_origin, known.log_key, p_log_key), p_log_key, known.size);
            RETURN;
        END IF;
        RETURN QUERY SELECT 200, 'known'::text, known.size;
        RETURN;
    END IF;
    SELECT * INTO known FROM logs l
        WHERE l.project = p_project AND l.host = p_host AND l.retired IS NULL;
    IF FOUND AND known.owner <> session_user THEN  -- another role's host name: not its refusal
        RETURN QUERY SELECT 403, format(
            'the database keeps %s on %s for the role %s, not %s: give this host another name, '
            'or its own role', p_project, p_host, known.owner, session_user), 0::bigint;
        RETURN;
    END IF;
    IF FOUND THEN
        RETURN QUERY SELECT * FROM refused(known.origin, 409, format(
            'the database keeps %s on %s as log %s (%s lines); a log with origin %s there means '
            'the project was re-sealed or re-keyed', p_project, p_host, known.origin, known.size,
            p_origin), p_origin, known.size);
        RETURN;
    END IF;
    INSERT INTO logs (origin, log_key, project, host, build)
        VALUES (p_origin, p_log_key, p_project, p_host, p_build);
    RETURN QUERY SELECT 201, 'enrolled'::text, 0::bigint;
END $$;

-- Append the lines from p_first on and accept the checkpoint that covers them (p_note: origin,
-- size and base64 root on its first three lines). Answers 200 with the new size, or a refusal:
-- 404 unknown origin, 409 a gap (with the size held) or a line that differs from the one held,
-- 422 a checkpoint that is not the database's own tree. Nothing of a refused call is kept but
-- the refusal.
CREATE FUNCTION sealguard.append(p_origin text, p_first bigint, p_lines bytea[], p_note text)
RETURNS TABLE (status int, reason text, size bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = sealguard, pg_temp AS $$
DECLARE
    held     logs%ROWTYPE;
    n        bigint;
    m        bigint;
    fr       bytea[];
    h        bytea;
    old      bytea;
    k        int;
    cp_size  bigint;
    cp_root  bytea;
    cp_orig  text;
BEGIN
    IF p_first IS NULL OR p_lines IS NULL OR array_position(p_lines, NULL) IS NOT NULL THEN
        RETURN QUERY SELECT 400, 'the first line number and every line are needed'::text,
            0::bigint;
        RETURN;
    END IF;
    SELECT * INTO held FROM logs l WHERE l.origin = p_origin FOR UPDATE;  -- the fence
    IF NOT FOUND THEN
        RETURN QUERY SELECT 404, format('unknown log origin %s', p_origin), 0::bigint;
        RETURN;
    END IF;
    IF NOT writes(held.owner) THEN  -- not kept as a refusal: it is not the log's doing
        RETURN QUERY SELECT 403, format('log %s is kept for the role %s, not %s', p_origin,
            held.owner, session_user), held.size;
        RETURN;
    END IF;
    IF held.retired IS NOT NULL THEN  -- an installation that should not run any more: kept
        RETURN QUERY SELECT * FROM refused(p_origin, 410, format(
            'log %s was retired at %s by %s (%s): it takes nothing more', p_origin,
            held.retired, held.retired_by, held.retired_reason), p_note, held.size);
        RETURN;
    END IF;
    n := held.size;
    fr := held.frontier;
    IF p_first < 0 OR p_first > n THEN
        RETURN QUERY SELECT 409, format('the database holds %s lines, not %s', n, p_first), n;
        RETURN;
    END IF;
    IF p_note IS NOT NULL THEN
        BEGIN
            cp_orig := split_part(p_note, E'\n', 1);
            cp_size := split_part(p_note, E'\n', 2)::bigint;
            cp_root := decode(split_part(p_note, E'\n', 3), 'base64');
        EXCEPTION WHEN others THEN
            RETURN QUERY SELECT * FROM refused(p_origin, 400, 'not a checkpoint', p_note, n);
            RETURN;
        END;
        IF cp_orig <> p_origin OR cp_size <> p_first + coalesce(array_length(p_lines, 1), 0)
           OR cp_size < n THEN
            RETURN QUERY SELECT * FROM refused(p_origin, 400, format(
                'a checkpoint of %s at %s lines does not close %s lines from %s of %s',
                cp_orig, cp_size, coalesce(array_length(p_lines, 1), 0), p_first, p_origin),
                p_note, n);
            RETURN;
        END IF;
    END IF;
    BEGIN  -- a block of its own: a checkpoint refused undoes the lines of this call
    FOR k IN 1 .. coalesce(array_length(p_lines, 1), 0) LOOP
        h := sha256('\x00'::bytea || p_lines[k]);
        IF p_first + k - 1 < held.size THEN  -- a line already held: the same, or a rewrite
            SELECT e.leaf INTO old FROM entries e
                WHERE e.origin = p_origin AND e.seq = p_first + k - 1;
            IF old IS DISTINCT FROM h THEN
                RETURN QUERY SELECT * FROM refused(p_origin, 409, format(
                    'line %s is not the line the database holds: the history was rewritten',
                    p_first + k), p_note, held.size);
                RETURN;
            END IF;
            CONTINUE;
        END IF;
        INSERT INTO entries (origin, seq, line, leaf) VALUES (p_origin, n, p_lines[k], h);
        m := n;
        WHILE m & 1 = 1 LOOP  -- each trailing 1 bit of the old size is a subtree to merge
            h := sha256('\x01'::bytea || fr[array_length(fr, 1)] || h);
            fr := fr[1 : array_length(fr, 1) - 1];
            m := m >> 1;
        END LOOP;
        fr := fr || h;
        n := n + 1;
    END LOOP;
    IF p_note IS NOT NULL THEN
        IF frontier_root(fr) <> cp_root THEN
            -- the lines inserted above are undone with the block: only the refusal is kept
            RAISE EXCEPTION USING ERRCODE = 'SGR22', MESSAGE = format(
                'the checkpoint at %s lines is not the root of the lines the database holds',
                cp_size);
        END IF;
        INSERT INTO checkpoints (origin, size, root, note)
            VALUES (p_origin, cp_size, cp_root, p_note)
            ON CONFLICT DO NOTHING;
    END IF;
    IF n > held.size THEN
        UPDATE logs l SET size = n, frontier = fr WHERE l.origin = p_origin;
    END IF;
    EXCEPTION WHEN SQLSTATE 'SGR22' THEN
        RETURN QUERY SELECT * FROM refused(p_origin, 422, SQLERRM, p_note, held.size);
        RETURN;
    END;
    RETURN QUERY SELECT 200, 'accepted'::text, n;
END $$;

-- The summary `fleet status` shows for an origin (replaced; never ahead of the log).
CREATE FUNCTION sealguard.report_head(p_origin text, p_at_seq bigint, p_summary jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = sealguard, pg_temp AS $$
DECLARE
    held logs%ROWTYPE;
BEGIN
    SELECT * INTO held FROM logs l WHERE l.origin = p_origin;
    IF FOUND AND NOT writes(held.owner) THEN
        RAISE EXCEPTION 'log % is kept for the role %, not %', p_origin, held.owner, session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF FOUND AND held.retired IS NOT NULL THEN
        RAISE EXCEPTION 'log % was retired at %', p_origin, held.retired
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO heads AS h (origin, at_seq, summary)
        SELECT p_origin, p_at_seq, p_summary FROM logs l
        WHERE l.origin = p_origin AND l.size >= p_at_seq
    ON CONFLICT (origin) DO UPDATE SET at_seq = EXCLUDED.at_seq, summary = EXCLUDED.summary,
        updated = clock_timestamp()
        WHERE h.at_seq <= EXCLUDED.at_seq;
END $$;

-- Retire a log (`sealguard fleet retire`): the database's owner records when, who and why; the
-- log takes nothing more, stays (every line, checkpoint and refusal), and its project x host
-- is free for a new log. Not SECURITY DEFINER and not granted: only the owner (or a superuser)
-- may update sealguard.logs.
CREATE FUNCTION sealguard.retire(p_origin text, p_reason text)
RETURNS TABLE (project text, host text, size bigint)
LANGUAGE plpgsql SET search_path = sealguard, pg_temp AS $$
DECLARE
    held logs%ROWTYPE;
BEGIN
    IF p_reason IS NULL OR btrim(p_reason) = '' THEN
        RAISE EXCEPTION 'a retirement needs a reason' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO held FROM logs l WHERE l.origin = p_origin FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the database keeps no log %', p_origin USING ERRCODE = 'no_data_found';
    END IF;
    IF held.retired IS NOT NULL THEN
        RAISE EXCEPTION 'log % was already retired at % by % (%)', p_origin, held.retired,
            held.retired_by, held.retired_reason
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE logs l SET retired = clock_timestamp(), retired_by = session_user,
        retired_reason = p_reason WHERE l.origin = p_origin;
    RETURN QUERY SELECT held.project, held.host, held.size;
END $$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sealguard FROM PUBLIC;
GRANT USAGE ON SCHEMA sealguard TO sealguard_observer, sealguard_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA sealguard TO sealguard_observer, sealguard_auditor;
GRANT EXECUTE ON FUNCTION sealguard.enrol(text, text, text, text, text),
    sealguard.append(text, bigint, bytea[], text),
    sealguard.report_head(text, bigint, jsonb),
    sealguard.frontier_root(bytea[]) TO sealguard_observer;
GRANT EXECUTE ON FUNCTION sealguard.frontier_root(bytea[]) TO sealguard_auditor;
