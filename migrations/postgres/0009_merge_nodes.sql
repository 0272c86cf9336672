-- Search policies (ARCHITECTURE §14): a merge node combines two parents. Its second parent
-- is `partner_id`, a node of the same run; the action list gains 'merge'.
ALTER TABLE nodes ADD COLUMN partner_id uuid;
ALTER TABLE nodes ADD CONSTRAINT nodes_partner
    FOREIGN KEY (run_id, partner_id) REFERENCES nodes (run_id, id);
ALTER TABLE nodes DROP CONSTRAINT nodes_action_check;
ALTER TABLE nodes ADD CONSTRAINT nodes_action_check
    CHECK (action IN ('draft', 'improve', 'debug', 'merge'));
