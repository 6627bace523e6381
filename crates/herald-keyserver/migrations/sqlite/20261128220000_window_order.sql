-- Export windows are read in (release time, key) order with keyset pagination: one index range
-- scan per page instead of sorting the rest of the window for every page.
CREATE INDEX exposure_release_order ON exposure (created_at, key_data);
DROP INDEX exposure_created_at;
CREATE INDEX exposure_revision_order ON exposure (revised_at, key_data) WHERE revised_at IS NOT NULL;
DROP INDEX exposure_revised_at;
