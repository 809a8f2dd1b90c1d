-- Decisions for many hosts: a proposal that says where it applies (some hosts, or every host of
-- a build) and the decision signing it, published once, picked up by every host of the project.
--
-- The database only carries them. Each host checks a decision itself before journaling it: the
-- signatures against its own AUTHORITY.toml in force, the signed payload's project, scope and
-- base baseline against its own, the proposal's files against the content hash the payload
-- signs, and that it never took that decision before. So nothing here is trusted: a row edited
-- by a superuser is refused by the hosts, and the tables refuse UPDATE, DELETE and TRUNCATE all
-- the same, for every role, like the log's tables (001). Observers publish through the two
-- functions below, which run as the schema's owner.

CREATE TABLE sealguard.proposals (
    proposal_id     text PRIMARY KEY,  -- PRO_…, as journaled by the host that made it
    project         text NOT NULL,
    content_sha256  text NOT NULL,     -- decide/fleet_payload.py content_sha256, what is signed
    record          jsonb NOT NULL,    -- its proposal_made fields: kind, file hashes, authority…
    diff            text NOT NULL,     -- diff.txt, what the signers read
    published_by    text NOT NULL DEFAULT session_user,
    published       timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE sealguard.proposal_files (
    proposal_id  text NOT NULL REFERENCES sealguard.proposals (proposal_id),
    path         text NOT NULL,  -- relative to governance/, as the proposal's folder holds it
    content      bytea NOT NULL,
    PRIMARY KEY (proposal_id, path)
);

CREATE TABLE sealguard.decisions (
    id            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- the order of publication
    decision_id   text PRIMARY KEY,  -- DEC_…, the fleet-level id the payload signs
    project       text NOT NULL,
    proposal_id   text NOT NULL REFERENCES sealguard.proposals (proposal_id),
    build         text,              -- the scope as published, for people and queries;
    hosts         text[],            -- hosts read it from the signed payload
    payload       bytea NOT NULL,    -- the exact bytes signed (RFC 8785 JSON, final newline)
    signatures    text[] NOT NULL,   -- armored SSHSIG signatures
    published_by  text NOT NULL DEFAULT session_user,
    published     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX decisions_project ON sealguard.decisions (project, id);

-- Statement triggers, as 001's: they fire even when no row matches.
CREATE TRIGGER proposals_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON sealguard.proposals
    FOR EACH STATEMENT EXECUTE FUNCTION sealguard.refuse_change();
CREATE TRIGGER proposal_files_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON sealguard.proposal_files
    FOR EACH STATEMENT EXECUTE FUNCTION sealguard.refuse_change();
CREATE TRIGGER decisions_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON sealguard.decisions
    FOR EACH STATEMENT EXECUTE FUNCTION sealguard.refuse_change();

-- Publish a proposal and its files. The same proposal again (same content hash) is a no-op
-- answering 200; another one under a known id is refused (409). 201 when published now.
CREATE FUNCTION sealguard.publish_proposal(p_proposal_id text, p_project text, p_content text,
                                           p_record jsonb, p_diff text, p_paths text[],
                                           p_contents bytea[])
RETURNS TABLE (status int, reason text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = sealguard, pg_temp AS $$
DECLARE
    known proposals%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('sealguard.proposals:' || p_proposal_id));
    SELECT * INTO known FROM proposals p WHERE p.proposal_id = p_proposal_id;
    IF FOUND THEN
        IF known.content_sha256 = p_content AND known.project = p_project THEN
            RETURN QUERY SELECT 200, 'known'::text;
        ELSE
            RETURN QUERY SELECT 409, format('the database holds another proposal %s '
                '(content %s of project %s)', p_proposal_id, known.content_sha256,
                known.project);
        END IF;
        RETURN;
    END IF;
    IF coalesce(array_length(p_paths, 1), 0) <> coalesce(array_length(p_contents, 1), 0) THEN
        RETURN QUERY SELECT 400, 'as many paths as contents'::text;
        RETURN;
    END IF;
    INSERT INTO proposals (proposal_id, project, content_sha256, record, diff)
        VALUES (p_proposal_id, p_project, p_content, p_record, p_diff);
    INSERT INTO proposal_files (proposal_id, path, content)
        SELECT p_proposal_id, f.path, f.content
        FROM unnest(p_paths, p_contents) AS f(path, content);
    RETURN QUERY SELECT 201, 'published'::text;
END $$;

-- Publish a decision on a published proposal. The same decision again (same payload and
-- signatures) answers 200; another one under a known id 409; an unknown proposal 404.
CREATE FUNCTION sealguard.publish_decision(p_decision_id text, p_project text,
                                           p_proposal_id text, p_build text, p_hosts text[],
                                           p_payload bytea, p_signatures text[])
RETURNS TABLE (status int, reason text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = sealguard, pg_temp AS $$
DECLARE
    known decisions%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('sealguard.decisions:' || p_decision_id));
    PERFORM 1 FROM proposals p WHERE p.proposal_id = p_proposal_id AND p.project = p_project;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 404, format('no proposal %s of project %s is published',
            p_proposal_id, p_project);
        RETURN;
    END IF;
    SELECT * INTO known FROM decisions d WHERE d.decision_id = p_decision_id;
    IF FOUND THEN
        IF known.payload = p_payload AND known.signatures = p_signatures THEN
            RETURN QUERY SELECT 200, 'known'::text;
        ELSE
            RETURN QUERY SELECT 409, format('the database holds another decision %s',
                p_decision_id);
        END IF;
        RETURN;
    END IF;
    INSERT INTO decisions (decision_id, project, proposal_id, build, hosts, payload, signatures)
        VALUES (p_decision_id, p_project, p_proposal_id, p_build, p_hosts, p_payload,
                p_signatures);
    RETURN QUERY SELECT 201, 'published'::text;
END $$;

REVOKE ALL ON FUNCTION sealguard.publish_proposal(text, text, text, jsonb, text, text[], bytea[]),
    sealguard.publish_decision(text, text, text, text, text[], bytea, text[]) FROM PUBLIC;
GRANT SELECT ON sealguard.proposals, sealguard.proposal_files, sealguard.decisions
    TO sealguard_observer, sealguard_auditor;
GRANT EXECUTE ON FUNCTION
    sealguard.publish_proposal(text, text, text, jsonb, text, text[], bytea[]),
    sealguard.publish_decision(text, text, text, text, text[], bytea, text[])
    TO sealguard_observer;
